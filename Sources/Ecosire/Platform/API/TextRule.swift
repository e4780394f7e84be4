/// The characters text may hold, the same on SQLite and PostgreSQL (which cannot store U+0000 in
/// `text` at all): no C0 control characters but tab, line feed and carriage return, and none of
/// those either in a single-line value.
public enum TextRule {
    /// Why `text` breaks the rule, or nil when it does not.
    public static func problem(in text: String, singleLine: Bool) -> String? {
        for scalar in text.unicodeScalars where scalar.value < 0x20 {
            switch scalar.value {
            case 0x09, 0x0A, 0x0D:
                if singleLine { return "Must be a single line (no tab, line feed or carriage return)" }
            default:
                return "Must not contain control characters (U+0000 to U+001F other than tab, line feed and carriage return)"
            }
        }
        return nil
    }
}
