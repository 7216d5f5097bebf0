//! Integration tests of shopstack-core against the AWS emulator.

mod session;
