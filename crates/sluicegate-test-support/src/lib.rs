//! Shared test fixtures: locating `../shared/conformance`, engine databases, fixed clocks.
//! Never a dependency of production code.
