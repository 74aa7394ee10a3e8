import Foundation

/// Generated inputs for the benchmarks: realistic files, written to a scratch directory.
enum Workloads {
    /// An action library the generated playbooks use (four actions, typical parameters).
    static let actionLibrary = """
        actions:
          cleanup_temp_files:
            type: infrastructure
            risk_level: low
            description: Delete old files under the given paths.
            parameters:
              paths: required
              age_threshold: required
              size_threshold: optional
            implementation: |
              minutes=$(( ${age_threshold} / 60 ))
              for p in ${paths}; do find "$p" -type f -mmin +"$minutes" -delete; done
            rollback: none
          restart_service:
            type: infrastructure
            risk_level: medium
            parameters:
              service_name: required
              wait_for_healthy: true
              timeout: 300s
            implementation: |
              systemctl restart "${service_name}"
            verification: |
              systemctl is-active --quiet "${service_name}"
            rollback: |
              systemctl start "${service_name}"
          scale_deployment:
            type: kubernetes
            risk_level: medium
            parameters:
              namespace: required
              deployment: required
              replicas: required
            outputs: [original_replicas]
            implementation: |
              echo "original_replicas=$(kubectl get deployment "${deployment}" -n "${namespace}" -o jsonpath='{.spec.replicas}')" >> "$MEDIC_OUTPUT"
              kubectl scale deployment "${deployment}" -n "${namespace}" --replicas="${replicas}"
            rollback: |
              kubectl scale deployment "${deployment}" -n "${namespace}" --replicas="${original_replicas}"
          clear_cache:
            type: application
            risk_level: low
            parameters:
              cache_type: [redis, memcached, application]
              pattern: optional
            implementation: |
              echo "clearing ${cache_type}"

        """

    /// A playbook of about 40 lines, varied by `index`.
    static func playbook(_ index: Int) -> String {
        """
        playbook_id: "generated-\(index)"
        name: "Generated remediation \(index)"
        version: "1.\(index % 10).0"
        category: infrastructure
        severity: high
        trigger:
          condition: disk_usage_percent{path="/var"} > \(80 + index % 15)
          duration: 5m
        pre_conditions:
          - check: writable_filesystem
          - memory_available: ">100MB"
        remediation_steps:
          - step: 1
            name: "Clean temporary files"
            action: cleanup_temp_files
            paths: [/tmp/*, /var/tmp/*]
            age_threshold: \(1 + index % 30)_days
            expected_recovery: 5-10%
            timeout: 5m
          - step: 2
            name: "Restart the service"
            action: restart_service
            service_name: "svc-\(index % 97)"
            timeout: 2m
            on_failure: rollback
            retry: {attempts: 3, backoff: exponential, initial: 1s, max: 30s}
        verification:
          check: disk_usage_percent < 75 AND error_rate < 0.1%
          wait_time: 2m
          retry: 3
        rollback:
          available: true
          reason: "Service restart is reversible"
        escalation:
          on_failure: true
          notify: [infrastructure_team, on_call_engineer]
          create_incident: true
        safety:
          max_retries: 1
          require_approval: false
          blast_radius: single_host
        metadata:
          last_updated: "2025-12-01"
          success_rate: 0.94
          total_executions: \(index)

        """
    }

    /// Writes `count` playbooks and the action library under `directory`; returns the paths.
    @discardableResult
    static func writeValidateCorpus(count: Int, to directory: URL) throws -> [String] {
        let playbooks = directory.appendingPathComponent("playbooks"), actions = directory.appendingPathComponent("actions")
        try FileManager.default.createDirectory(at: playbooks, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: actions, withIntermediateDirectories: true)
        try actionLibrary.write(to: actions.appendingPathComponent("library.yaml"), atomically: false, encoding: .utf8)
        var paths: [String] = []
        for i in 0..<count {
            let path = playbooks.appendingPathComponent(String(format: "pb-%05d.yaml", i))
            try playbook(i).write(to: path, atomically: false, encoding: .utf8)
            paths.append(path.path)
        }
        return paths
    }
}
