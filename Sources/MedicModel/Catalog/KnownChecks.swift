extension Precondition {
    /// Named checks Medic carries out (docs/format.md, "Preconditions"). A name outside this list
    /// is a warning: it may be a check of a newer Medic, or a typo.
    public static let knownChecks: [String] = [
        "writable_filesystem", "no_active_backups", "sufficient_permissions", "replica_healthy",
        "command_available", "service_exists", "not_in_maintenance",
    ]
}
