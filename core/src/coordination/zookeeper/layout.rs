//! Where everything lives under the root (default `/sluice`); `docs/cluster.md` describes the
//! tree. Names become znode names, so they are checked: no `/`, not empty, not `.` or `..`.

use crate::coordination::{check_data_name, CoordinationError};

/// The paths of one Sluice cluster's tree.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    root: String,
}

impl Layout {
    /// `root` is an absolute path without a trailing `/` (e.g. `/sluice`, `/team/sluice`).
    pub(super) fn new(root: &str) -> Result<Layout, CoordinationError> {
        let ok = root.starts_with('/')
            && root.len() > 1
            && !root.ends_with('/')
            && root[1..].split('/').all(|part| check_name(part).is_ok());
        if !ok {
            return Err(CoordinationError::InvalidName {
                what: "ZooKeeper root".into(),
                name: root.to_string(),
                detail: "must be an absolute path like `/sluice`, without a trailing `/`".into(),
            });
        }
        Ok(Layout {
            root: root.to_string(),
        })
    }

    pub(super) fn root(&self) -> &str {
        &self.root
    }

    /// Parent of the node registrations.
    pub(super) fn nodes(&self) -> String {
        format!("{}/nodes", self.root)
    }

    /// Parent of the tasks (watched recursively for change notices).
    pub(super) fn tasks(&self) -> String {
        format!("{}/tasks", self.root)
    }

    /// Parent of the epoch counters: outside `tasks/` so that removing a task keeps its counter
    /// and epochs only grow (see the fencing argument in `docs/cluster.md`).
    pub(super) fn epochs(&self) -> String {
        format!("{}/epochs", self.root)
    }

    pub(super) fn node(&self, id: &str) -> Result<String, CoordinationError> {
        check("node id", id)?;
        Ok(format!("{}/nodes/{id}", self.root))
    }

    pub(super) fn task(&self, task: &str) -> Result<TaskPaths, CoordinationError> {
        check("task name", task)?;
        let dir = format!("{}/tasks/{task}", self.root);
        Ok(TaskPaths {
            config: format!("{dir}/config"),
            desired: format!("{dir}/desired"),
            owner: format!("{dir}/owner"),
            checkpoint: format!("{dir}/checkpoint"),
            status: format!("{dir}/status"),
            snapshot_request: format!("{dir}/snapshot_request"),
            snapshot_taken: format!("{dir}/snapshot_taken"),
            epoch: format!("{}/epochs/{task}", self.root),
            dir,
        })
    }
}

impl TaskPaths {
    /// `tasks/{task}/data-{name}`: one task data record, a child of the task's folder like the
    /// checkpoint (so it goes with the task), its name prefixed so that it never meets the
    /// other parts.
    pub(super) fn data(&self, name: &str) -> Result<String, CoordinationError> {
        check_data_name(name)?;
        Ok(format!("{}/{DATA_PREFIX}{name}", self.dir))
    }
}

/// The prefix of the task data znodes in a task's folder.
const DATA_PREFIX: &str = "data-";

/// The znodes of one task.
#[derive(Debug, Clone)]
pub(super) struct TaskPaths {
    /// `tasks/{task}`: exists exactly while the task does.
    pub dir: String,
    pub config: String,
    pub desired: String,
    /// Ephemeral; exists while a node owns the task.
    pub owner: String,
    pub checkpoint: String,
    pub status: String,
    /// The manager's last on-demand snapshot request (a task change: owners watch it).
    pub snapshot_request: String,
    /// The id of the last request the owner took (written fenced, like the checkpoint).
    pub snapshot_taken: String,
    /// `epochs/{task}`: its version counts the claims; never deleted.
    pub epoch: String,
}

/// Whether a change notice at `path` (from the recursive watch on `tasks`, the folder) is one
/// nodes must look at: checkpoints and status reports are written every few seconds and are
/// not, nor are the task data records the owner writes.
pub(super) fn is_task_change(tasks: &str, path: &str) -> bool {
    let part = path
        .strip_prefix(tasks)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.split_once('/'))
        .map(|(_task, part)| part);
    match part {
        Some("checkpoint" | "status" | "snapshot_taken") => false,
        Some(part) => !part.starts_with(DATA_PREFIX),
        None => true,
    }
}

fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("it is empty")
    } else if name == "." || name == ".." {
        Err("`.` and `..` are not znode names")
    } else if name.contains('/') {
        Err("it contains `/`")
    } else if name.chars().any(char::is_control) {
        Err("it contains a control character")
    } else {
        Ok(())
    }
}

fn check(what: &str, name: &str) -> Result<(), CoordinationError> {
    check_name(name).map_err(|detail| CoordinationError::InvalidName {
        what: what.to_string(),
        name: name.to_string(),
        detail: detail.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_documented_tree() {
        let layout = Layout::new("/sluice").unwrap();
        assert_eq!(layout.node("n1").unwrap(), "/sluice/nodes/n1");
        let t = layout.task("orders").unwrap();
        assert_eq!(t.dir, "/sluice/tasks/orders");
        assert_eq!(t.config, "/sluice/tasks/orders/config");
        assert_eq!(t.desired, "/sluice/tasks/orders/desired");
        assert_eq!(t.owner, "/sluice/tasks/orders/owner");
        assert_eq!(t.checkpoint, "/sluice/tasks/orders/checkpoint");
        assert_eq!(t.status, "/sluice/tasks/orders/status");
        assert_eq!(t.snapshot_request, "/sluice/tasks/orders/snapshot_request");
        assert_eq!(t.snapshot_taken, "/sluice/tasks/orders/snapshot_taken");
        assert_eq!(t.epoch, "/sluice/epochs/orders");
        assert_eq!(
            t.data("schema-history").unwrap(),
            "/sluice/tasks/orders/data-schema-history"
        );
        assert!(t.data("a/b").is_err());
        assert_eq!(layout.tasks(), "/sluice/tasks");
        assert_eq!(layout.nodes(), "/sluice/nodes");
        assert_eq!(layout.epochs(), "/sluice/epochs");
        assert_eq!(Layout::new("/a/b").unwrap().tasks(), "/a/b/tasks");
    }

    #[test]
    fn bad_names_are_refused_with_the_reason() {
        for root in ["sluice", "/", "/sluice/", "/a//b", ""] {
            assert!(Layout::new(root).is_err(), "{root:?}");
        }
        let layout = Layout::new("/sluice").unwrap();
        let err = layout.task("a/b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "task name `a/b` is invalid: it contains `/`"
        );
        assert!(layout.task("..").is_err());
        assert!(layout.node("").is_err());
    }

    #[test]
    fn checkpoints_and_status_reports_are_not_task_changes() {
        let tasks = "/sluice/tasks";
        assert!(is_task_change(tasks, "/sluice/tasks/t"));
        assert!(is_task_change(tasks, "/sluice/tasks/t/config"));
        assert!(is_task_change(tasks, "/sluice/tasks/t/owner"));
        assert!(!is_task_change(tasks, "/sluice/tasks/t/checkpoint"));
        assert!(!is_task_change(tasks, "/sluice/tasks/t/status"));
        assert!(!is_task_change(tasks, "/sluice/tasks/t/snapshot_taken"));
        assert!(is_task_change(tasks, "/sluice/tasks/t/snapshot_request"));
        assert!(!is_task_change(
            tasks,
            "/sluice/tasks/t/data-schema-history"
        ));
        // Tasks may be named like the parts.
        assert!(is_task_change(tasks, "/sluice/tasks/checkpoint"));
        assert!(is_task_change(tasks, "/sluice/tasks/status/desired"));
    }
}
