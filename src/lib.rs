//! recoverd: turns a finished run's FIT, GPX or TCX file into a tailored recovery plan.
//!
//! The pipeline for one file: [`ingest`] reads it into a [`model::Activity`]; the pure
//! [`effort`] module judges how hard it was and the pure [`plan`] module turns that into a
//! timeline of recovery tactics; [`store`] keeps all of it in SQLite; [`notifier`] tells the
//! desktop. [`pipeline::process_file`] runs those steps for one file and is shared by the
//! `import` command ([`app`]) and the `run` service ([`daemon`]).

pub mod announce;
pub mod app;
pub mod chart;
pub mod cli;
pub mod click;
pub mod config;
pub mod daemon;
pub mod effort;
pub mod ingest;
pub mod install;
pub mod localtime;
pub mod logging;
pub mod model;
pub mod morning;
pub mod morning_view;
pub mod notifier;
pub mod page;
pub mod pipeline;
pub mod plan;
pub mod raster;
pub mod render;
pub mod store;
pub mod wellness;
