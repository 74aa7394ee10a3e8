/// The smallest library a watch can act on, shared by the tests and the benchmarks that drive
/// rule-triggered runs: one low-risk action (`clean`), one playbook using it (`clean-001`, a
/// required `path`), and the `disk-filling` rule that starts it per path.
public enum CleanLibrary {
    public static let action = """
        actions:
          clean:
            type: infrastructure
            risk_level: low
            parameters: {path: required}
            implementation: echo clean
        """

    public static let playbook = """
        playbook_id: clean-001
        name: Clean
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          path: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: clean, action: clean}
        metadata: {}
        """

    /// The `disk-filling` rule: above 85% for `forDuration`, one incident per path; `extraRules`
    /// are appended to the same `rules:` list (each an indented `- name: ...` entry).
    public static func rules(forDuration: String = "60s", groupByPath: Bool = true, extraRules: String = "") -> String {
        """
        rules:
          - name: disk-filling
            metric: disk_usage_percent
            detector: threshold
            params: {op: ">", value: 85}
            for: \(forDuration)
            severity: SEV3
            playbook: clean-001
            parameters_from_labels: {path: path}
        """ + (groupByPath ? "\n    group_by: [path]" : "") + (extraRules.isEmpty ? "" : "\n" + extraRules)
    }

    /// The files of the library, as (path under the root, contents).
    public static func files(rules: String = CleanLibrary.rules()) -> [(String, String)] {
        [("actions/a.yaml", action), ("playbooks/p.yaml", playbook), ("rules/r.yaml", rules)]
    }
}
