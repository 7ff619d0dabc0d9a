//! The manager: REST API, task store (sqlx), auth, publication of task configs to ZooKeeper and
//! the status view. An empty crate until the cluster/manager work lands; standalone mode runs
//! without it today.
