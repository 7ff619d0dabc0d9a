//! The checks both coordinators make before a manager-side write, with the errors they give,
//! so that the in-process and the ZooKeeper coordinator refuse the same calls the same way.

use super::{CoordinationError, Ownership, PublishedTask, SnapshotRequest};

/// A new publication of `task` must carry a higher revision than the stored one; the same
/// revision is accepted only with the same config (a retried call).
pub(crate) fn check_revision(
    task: &str,
    stored: &PublishedTask,
    new: &PublishedTask,
) -> Result<(), CoordinationError> {
    if new.revision > stored.revision || new == stored {
        return Ok(());
    }
    Err(CoordinationError::Conflict {
        what: format!("task {task}: publish revision {}", new.revision),
        detail: format!(
            "the stored config has revision {}{}; a new config needs a higher revision",
            stored.revision,
            if new.revision == stored.revision {
                " and differs"
            } else {
                ""
            }
        ),
    })
}

/// The refusal of a checkpoint reset while `owner` runs the task.
pub(crate) fn owned_conflict(task: &str, owner: &Ownership) -> CoordinationError {
    CoordinationError::Conflict {
        what: format!("task {task}: reset checkpoint"),
        detail: format!(
            "node `{}` owns the task (epoch {}); stop it first",
            owner.node, owner.epoch
        ),
    }
}

/// The refusal of a node registration whose id another live session holds.
pub(crate) fn node_taken(id: &str) -> CoordinationError {
    CoordinationError::Conflict {
        what: format!("register node `{id}`"),
        detail: "another live session has registered this node id; ids must be unique".into(),
    }
}

/// The longest task data name.
const MAX_DATA_NAME: usize = 64;

/// Checks the name of a task data record ([`super::Coordinator::save_task_data`]): 1 to 64
/// lowercase ASCII letters, digits and `-`, starting with a letter, so that it is a plain
/// znode name and a plain file name (`NAME.json`) everywhere a store keeps it; not
/// `checkpoint`.
pub fn check_data_name(name: &str) -> Result<(), CoordinationError> {
    let refuse = |detail: &str| {
        Err(CoordinationError::InvalidName {
            what: "task data name".into(),
            name: name.to_string(),
            detail: detail.to_string(),
        })
    };
    if name.is_empty() || name.len() > MAX_DATA_NAME {
        return refuse("must have 1 to 64 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return refuse("must start with a lowercase letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return refuse("may only hold lowercase letters, digits and `-`");
    }
    // The file store keeps a record as `NAME.json` beside `checkpoint.json`.
    if name == "checkpoint" {
        return refuse("is the checkpoint's own name");
    }
    Ok(())
}

/// The id of a new snapshot request: above the last request and the last one taken, so a
/// pending request is always one the owner has not taken.
pub(crate) fn next_request_id(last: Option<&SnapshotRequest>, taken: Option<u64>) -> u64 {
    last.map_or(0, |r| r.id).max(taken.unwrap_or(0)) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(revision: u64, config: &str) -> PublishedTask {
        PublishedTask {
            revision,
            config: serde_json::json!({ "name": config }),
        }
    }

    #[test]
    fn data_names_are_plain_lowercase_words() {
        for ok in ["schema-history", "coverage", "a1"] {
            assert!(check_data_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "checkpoint",
            "Schema",
            "a/b",
            "../x",
            "-x",
            "1x",
            "a.json",
            &"x".repeat(65),
        ] {
            assert!(check_data_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_data_name("a/b").unwrap_err().to_string(),
            "task data name `a/b` is invalid: may only hold lowercase letters, digits and `-`"
        );
    }

    #[test]
    fn revisions_must_grow_unless_the_call_is_a_retry() {
        let stored = published(3, "a");
        assert!(check_revision("t", &stored, &published(4, "b")).is_ok());
        assert!(check_revision("t", &stored, &published(3, "a")).is_ok());
        let same = check_revision("t", &stored, &published(3, "b")).unwrap_err();
        assert!(same.to_string().contains("and differs"), "{same}");
        let older = check_revision("t", &stored, &published(2, "a")).unwrap_err();
        assert_eq!(
            older.to_string(),
            "task t: publish revision 2: the stored config has revision 3; a new config needs \
             a higher revision"
        );
    }
}
