//! End-to-end tests: the real botctl binary, a real agent and real bot processes, each test in
//! its own short BOTCTL_HOME under /tmp. One test binary so everything links once.

mod adoption;
mod api;
mod auth;
mod cli;
mod config_errors;
mod containment;
mod dashboard;
mod docs;
mod env_file;
mod faults;
mod files;
mod forecast;
mod habits;
mod health;
mod hosts;
mod import_export;
mod logs;
mod notify_bots;
mod persistence;
mod reliability;
mod reload;
mod remote;
mod schedule;
mod socket;
mod storage;
mod supervision;
mod support;
mod systemd;
mod top;
