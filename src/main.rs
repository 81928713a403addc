mod config;
mod error;
mod token;
fn main() {}
