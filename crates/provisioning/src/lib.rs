#![doc = include_str!("../README.md")]
#![no_std]

#[cfg(test)]
extern crate std;

pub mod dynreg;
mod fmt;

#[cfg(test)]
mod tests;
