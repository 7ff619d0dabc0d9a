//! Which node runs what: a task's `node_labels` must all be among a node's labels, and each
//! node takes a fair share of the tasks it may run.
//!
//! The share: every task counts `1 / (live nodes that may run it)` for each of those nodes; a
//! node's fair share is the sum over the tasks it may run, rounded up. With no labels that is
//! `ceil(tasks / nodes)`; a task only one node may run counts whole for that node.

use sluice_core::coordination::{NodeInfo, TaskView};

/// The labels `view`'s published config requires.
fn required_labels(view: &TaskView) -> Vec<&str> {
    view.published
        .as_ref()
        .and_then(|p| p.config.get("node_labels"))
        .and_then(|l| l.as_array())
        .map(|labels| labels.iter().filter_map(|l| l.as_str()).collect())
        .unwrap_or_default()
}

/// Whether `node` may run `view`'s task.
pub fn fits(node: &NodeInfo, view: &TaskView) -> bool {
    required_labels(view)
        .iter()
        .all(|l| node.labels.iter().any(|n| n == l))
}

/// How many of `tasks` (all of which this node may run) are this node's fair share among the
/// live `nodes`.
pub fn fair_share(tasks: &[&TaskView], nodes: &[NodeInfo]) -> usize {
    let share: f64 = tasks
        .iter()
        .map(|t| {
            let eligible = nodes.iter().filter(|n| fits(n, t)).count().max(1);
            1.0 / eligible as f64
        })
        .sum();
    // A small tolerance: 3 × 1/3 must not round up to 2.
    (share - 1e-9).ceil().max(0.0) as usize
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_core::coordination::PublishedTask;

    use super::*;

    fn node(id: &str, labels: &[&str]) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            addr: String::new(),
            version: String::new(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            started_at_ms: 0,
        }
    }

    fn task(name: &str, labels: &[&str]) -> TaskView {
        TaskView {
            name: name.into(),
            published: Some(PublishedTask {
                revision: 1,
                config: json!({"name": name, "node_labels": labels}),
            }),
            desired: None,
            owner: None,
            checkpoint: None,
            status: None,
            snapshot_request: None,
            snapshot_taken: None,
        }
    }

    #[test]
    fn labels_limit_placement_and_shares_follow_eligibility() {
        let (a, b, c) = (
            node("a", &["eu", "ssd"]),
            node("b", &["eu"]),
            node("c", &[]),
        );
        let nodes = [a.clone(), b.clone(), c.clone()];
        let any = task("any", &[]);
        let eu = task("eu", &["eu"]);
        let ssd = task("ssd", &["eu", "ssd"]);
        assert!(fits(&c, &any) && !fits(&c, &eu) && fits(&b, &eu) && !fits(&b, &ssd));
        // Three unlabelled tasks on three nodes: one each.
        let three = [task("1", &[]), task("2", &[]), task("3", &[])];
        let refs: Vec<&TaskView> = three.iter().collect();
        assert_eq!(fair_share(&refs, &nodes), 1);
        // Node a: `ssd` only it may run (1), `eu` shared with b (1/2), `any` with all (1/3).
        assert_eq!(fair_share(&[&ssd, &eu, &any], &nodes), 2);
        // Node c may run only `any`: 1/3, rounded up to 1.
        assert_eq!(fair_share(&[&any], &nodes), 1);
        assert_eq!(fair_share(&[], &nodes), 0);
    }
}
