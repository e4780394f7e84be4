extension Substring {
    /// The text without leading and trailing spaces and tabs. Header values are parsed on every
    /// request, and Foundation's `trimmingCharacters` bridges through NSString, which showed in profiles.
    func trimmingBlanks() -> Substring {
        guard let first = firstIndex(where: { $0 != " " && $0 != "\t" }),
            let last = lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return Substring() }
        return self[first...last]
    }
}
