//! One module per subcommand.

pub mod check_config;
pub mod ctl;
pub mod dump;
pub mod manager;
pub mod node;
pub mod standalone;
