//! Unit tests: the `gateway_*` vectors, the reply reader, the argument
//! checks, the result lines and the state machine on a manual clock.

mod arguments;
mod flows;
mod json;
mod list;
mod online;
mod support;
mod vectors;
