import Foundation
import MedicModel

/// Reads an inventory file (YAML or JSON): the targets a rollout may take, with labels and groups.
///
/// ```yaml
/// hosts:
///   - name: web-1.example.com
///     labels: {service: web, cluster: eu-1, region: eu-west-1}
///     groups: [web, canary]
///   - web-2.example.com
/// groups:
///   web:
///     hosts: [web-2.example.com]
///     labels: {service: web}
/// ```
public enum InventoryLoader {
    /// Never throws: every fault is a located diagnostic, and the inventory is nil when there is
    /// any error (a half-read inventory is never used).
    public static func load(path: String, limits: InputLimits = .default) -> (Inventory?, [Diagnostic]) {
        StandaloneFile.load(path: path, limits: limits) { root, context in InventoryDecoder(context: context).decode(root) }
    }
}

struct InventoryDecoder {
    let context: DecodeContext

    func decode(_ root: SourceNode) -> Inventory? {
        guard let f = context.fields(root, "the inventory file", known: ["$schema", "hosts", "groups"]),
              let hostsNode = f.required("hosts"), let items = context.list(hostsNode, "'hosts'") else { return nil }
        var hosts: [Inventory.Host] = []
        var seen: [String: SourceLocation] = [:]
        for item in items {
            guard let host = host(item) else { continue }
            if let earlier = seen[host.name] {
                context.report(.duplicateName, "host '\(host.name)' is already listed at \(earlier.description)", at: item.location,
                               hint: "list each host once; give it several groups with 'groups'")
                continue
            }
            seen[host.name] = item.location
            hosts.append(host)
        }
        var groups: [Inventory.Group] = []
        if let groupsNode = f["groups"] {
            guard let pairs = groupsNode.mapping else {
                context.report(.wrongType, "'groups' must be a mapping of group name to {hosts, labels}, found \(groupsNode.kindDescription)",
                               at: groupsNode.location, hint: "write 'groups: {web: {hosts: [web-1], labels: {service: web}}}'")
                return nil
            }
            for pair in pairs {
                guard context.checkID(pair.key, pair.keyNode, "group name"),
                      let g = context.fields(pair.value, "group '\(pair.key)'", known: ["hosts", "labels"]) else { continue }
                groups.append(Inventory.Group(name: pair.key, labels: g["labels"].flatMap { context.stringMap($0, "'labels'") } ?? [:]))
                for member in g["hosts"].flatMap({ context.list($0, "'hosts' of group '\(pair.key)'") }) ?? [] {
                    guard let name = context.string(member, "a host of group '\(pair.key)'") else { continue }
                    guard let index = hosts.firstIndex(where: { $0.name == name }) else {
                        let hint = Spelling.suggestion(for: name, among: hosts.map(\.name)).map { "did you mean '\($0)'?" }
                            ?? "list the host under 'hosts' first"
                        context.report(.unresolvedReference, "group '\(pair.key)' names host '\(name)', which 'hosts' does not list",
                                       at: member.location, hint: hint)
                        continue
                    }
                    if !hosts[index].groups.contains(pair.key) { hosts[index].groups.append(pair.key) }
                }
            }
        }
        return Inventory(hosts: hosts, groups: groups)
    }

    private func host(_ node: SourceNode) -> Inventory.Host? {
        var host: Inventory.Host?
        if node.scalar != nil {
            host = context.string(node, "a host").map { Inventory.Host(name: $0) }
        } else if let f = context.fields(node, "a host", known: ["name", "labels", "groups"]),
                  let name = f.string("name", required: true) {
            host = Inventory.Host(name: name, labels: f["labels"].flatMap { context.stringMap($0, "'labels'") } ?? [:],
                                  groups: f["groups"].flatMap { context.list($0, "'groups'") }?.compactMap { item in
                                      context.string(item, "an item of 'groups'").flatMap { context.checkID($0, item, "group name") ? $0 : nil }
                                  } ?? [])
        }
        guard let host else { return nil }
        if host.name.isEmpty || host.name.contains("*") || host.name.contains("?") || host.name == "all" || host.name.contains(",")
            || host.name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            context.report(.badTargets, "host '\(host.name)' is not a host name", at: node.location,
                           hint: "name one host or instance; no wildcards, commas, control characters or 'all'")
            return nil
        }
        return host
    }
}
