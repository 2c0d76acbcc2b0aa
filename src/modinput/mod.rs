//! The `t1651_cloud_audit` modular input.
