import SQLKit

extension Caller {
    /// The rows a caller sees of records that belong to a user of the organization (licenses,
    /// subscriptions, orders paid online): admins and owners see the organization's, other members
    /// only those whose `userColumn` is theirs.
    func ownedRows(userColumn: String) -> SQLQueryString {
        role >= .admin
            ? "organization_id = \(bind: organizationID)"
            : "organization_id = \(bind: organizationID) AND \(ident: userColumn) = \(bind: userID)"
    }
}
