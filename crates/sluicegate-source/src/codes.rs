//! Engine error codes to [`SourceErrorKind`]: one table per engine, used by each engine's
//! `classify`. Only codes decide a kind; the driver's message text never does.

use crate::error::SourceErrorKind;

/// The kind of a PostgreSQL error, by its SQLSTATE (PostgreSQL manual, Appendix A).
pub(crate) fn sqlstate_kind(sqlstate: &str) -> SourceErrorKind {
    use SourceErrorKind::*;
    match sqlstate {
        // invalid_password, invalid_authorization_specification
        "28P01" | "28000" => AuthenticationFailed,
        // query_canceled (statement_timeout fired), lock_not_available (lock_timeout fired)
        "57014" | "55P03" => Timeout,
        // invalid_catalog_name: the database named in the URL does not exist
        "3D000" => ConnectionFailed,
        // insufficient_privilege
        "42501" => PermissionDenied,
        // undefined_table, undefined_column, invalid_schema_name
        "42P01" | "42703" | "3F000" => ObjectNotFound,
        // read_only_sql_transaction
        "25006" => ReadOnlyViolation,
        // connection_exception, insufficient_resources, operator intervention on the session
        c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57P") => ConnectionFailed,
        // data_exception: 22P02 invalid text representation, 22001 string too long, 22003
        // numeric out of range, 22007/22008 bad dates and times, …
        c if c.starts_with("22") => InvalidValue,
        // integrity_constraint_violation: not null, foreign key, unique, check, exclusion
        c if c.starts_with("23") => ConstraintViolation,
        _ => QueryFailed,
    }
}

/// The kind of a MySQL / MariaDB server error, by its error number (the server error
/// reference of both; the numbers they share mean the same).
pub(crate) fn server_code_kind(code: u16) -> SourceErrorKind {
    use SourceErrorKind::*;
    match code {
        // access denied (user/password, database at connect), no password, auth plugin
        1045 | 1044 | 1698 | 1251 => AuthenticationFailed,
        // MySQL max_execution_time, MariaDB max_statement_time, query interrupted, sort
        // aborted, lock wait timeout
        3024 | 1969 | 1317 | 1028 | 1205 => Timeout,
        // unknown database (the one in the URL), too many connections, host blocked or not
        // allowed
        1049 | 1040 | 1203 | 1129 | 1130 => ConnectionFailed,
        // table, column, specific privilege, routine access denied
        1142 | 1143 | 1227 | 1370 => PermissionDenied,
        // no such table, unknown column
        1146 | 1054 => ObjectNotFound,
        // cannot execute in a READ ONLY transaction, server running with --read-only (1290
        // names the option; on a source it is read_only or super_read_only), read-only mode
        1792 | 1290 | 1836 => ReadOnlyViolation,
        // truncated wrong value (1292, 1366), data too long, out of range, data truncated,
        // illegal or wrong value for the type, invalid JSON text
        1292 | 1366 | 1406 | 1264 | 1690 | 1265 | 1367 | 1411 | 3140 => InvalidValue,
        // duplicate entry (and with key name), foreign keys (old and new numbers), not null,
        // MySQL and MariaDB check constraints
        1062 | 1586 | 1216 | 1217 | 1451 | 1452 | 1048 | 3819 | 4025 => ConstraintViolation,
        _ => QueryFailed,
    }
}

/// Where a SQLite error arose. SQLite reports a missing table, column or attached schema only
/// as its generic `SQLITE_ERROR`, and only while preparing a statement; every statement here is
/// rendered from validated, quoted identifiers with double-quoted string literals switched off,
/// so a generic error while preparing one means the configured object is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Prepare,
    Run,
}

/// The kind of a SQLite error, by its extended result code (sqlite.org/rescode.html).
pub(crate) fn result_code_kind(extended: i32, stage: Stage) -> SourceErrorKind {
    use SourceErrorKind::*;
    use rusqlite::ffi;
    if extended == ffi::SQLITE_CONSTRAINT_DATATYPE {
        // A STRICT table refused a value of the wrong type.
        return InvalidValue;
    }
    match extended & 0xff {
        // The progress handler interrupts a statement past its deadline.
        ffi::SQLITE_INTERRUPT => Timeout,
        // The busy timeout ran out.
        ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => Timeout,
        ffi::SQLITE_CANTOPEN | ffi::SQLITE_NOTADB | ffi::SQLITE_PERM | ffi::SQLITE_IOERR => {
            ConnectionFailed
        }
        // An authorizer refused the statement.
        ffi::SQLITE_AUTH => PermissionDenied,
        ffi::SQLITE_READONLY => ReadOnlyViolation,
        // Datatype mismatch (e.g. text into an INTEGER PRIMARY KEY), string or blob too big.
        ffi::SQLITE_MISMATCH | ffi::SQLITE_TOOBIG => InvalidValue,
        ffi::SQLITE_CONSTRAINT => ConstraintViolation,
        ffi::SQLITE_ERROR if stage == Stage::Prepare => ObjectNotFound,
        _ => QueryFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EngineCode, Redactor};
    use SourceErrorKind::*;

    #[test]
    fn postgres_sqlstates() {
        let table = [
            ("28P01", AuthenticationFailed),
            ("28000", AuthenticationFailed),
            ("57014", Timeout),
            ("55P03", Timeout),
            ("3D000", ConnectionFailed),
            ("08006", ConnectionFailed),
            ("08001", ConnectionFailed),
            ("53300", ConnectionFailed),
            ("57P01", ConnectionFailed),
            ("42501", PermissionDenied),
            ("42P01", ObjectNotFound),
            ("42703", ObjectNotFound),
            ("3F000", ObjectNotFound),
            ("25006", ReadOnlyViolation),
            ("22P02", InvalidValue),
            ("22001", InvalidValue),
            ("22003", InvalidValue),
            ("22007", InvalidValue),
            ("22008", InvalidValue),
            ("23505", ConstraintViolation),
            ("23503", ConstraintViolation),
            ("23502", ConstraintViolation),
            ("23514", ConstraintViolation),
            ("42601", QueryFailed),
            ("0A000", QueryFailed),
            ("40001", QueryFailed),
            ("XX000", QueryFailed),
        ];
        for (sqlstate, kind) in table {
            assert_eq!(sqlstate_kind(sqlstate), kind, "{sqlstate}");
            assert!(EngineCode::sqlstate(sqlstate).is_some(), "{sqlstate}");
        }
    }

    #[test]
    fn mysql_server_codes() {
        let table = [
            (1045, AuthenticationFailed),
            (1044, AuthenticationFailed),
            (1698, AuthenticationFailed),
            (1251, AuthenticationFailed),
            (3024, Timeout),
            (1969, Timeout),
            (1317, Timeout),
            (1205, Timeout),
            (1049, ConnectionFailed),
            (1040, ConnectionFailed),
            (1130, ConnectionFailed),
            (1142, PermissionDenied),
            (1143, PermissionDenied),
            (1227, PermissionDenied),
            (1146, ObjectNotFound),
            (1054, ObjectNotFound),
            (1792, ReadOnlyViolation),
            (1290, ReadOnlyViolation),
            (1836, ReadOnlyViolation),
            (1366, InvalidValue),
            (1292, InvalidValue),
            (1406, InvalidValue),
            (1264, InvalidValue),
            (1690, InvalidValue),
            (3140, InvalidValue),
            (1062, ConstraintViolation),
            (1451, ConstraintViolation),
            (1452, ConstraintViolation),
            (1048, ConstraintViolation),
            (3819, ConstraintViolation),
            (4025, ConstraintViolation),
            (1064, QueryFailed),
            (1105, QueryFailed),
        ];
        for (code, kind) in table {
            assert_eq!(server_code_kind(code), kind, "{code}");
        }
    }

    #[test]
    fn sqlite_result_codes() {
        use rusqlite::ffi;
        let table = [
            (ffi::SQLITE_INTERRUPT, Stage::Run, Timeout),
            (ffi::SQLITE_BUSY, Stage::Run, Timeout),
            (ffi::SQLITE_BUSY_SNAPSHOT, Stage::Run, Timeout),
            (ffi::SQLITE_LOCKED, Stage::Run, Timeout),
            (ffi::SQLITE_CANTOPEN, Stage::Run, ConnectionFailed),
            (ffi::SQLITE_NOTADB, Stage::Run, ConnectionFailed),
            (ffi::SQLITE_IOERR_READ, Stage::Run, ConnectionFailed),
            (ffi::SQLITE_AUTH, Stage::Prepare, PermissionDenied),
            (ffi::SQLITE_READONLY, Stage::Run, ReadOnlyViolation),
            (ffi::SQLITE_READONLY_DBMOVED, Stage::Run, ReadOnlyViolation),
            (ffi::SQLITE_MISMATCH, Stage::Run, InvalidValue),
            (ffi::SQLITE_TOOBIG, Stage::Run, InvalidValue),
            (ffi::SQLITE_CONSTRAINT_DATATYPE, Stage::Run, InvalidValue),
            (
                ffi::SQLITE_CONSTRAINT_UNIQUE,
                Stage::Run,
                ConstraintViolation,
            ),
            (
                ffi::SQLITE_CONSTRAINT_NOTNULL,
                Stage::Run,
                ConstraintViolation,
            ),
            (
                ffi::SQLITE_CONSTRAINT_CHECK,
                Stage::Run,
                ConstraintViolation,
            ),
            (
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY,
                Stage::Run,
                ConstraintViolation,
            ),
            (ffi::SQLITE_ERROR, Stage::Prepare, ObjectNotFound),
            (ffi::SQLITE_ERROR, Stage::Run, QueryFailed),
            (ffi::SQLITE_RANGE, Stage::Run, QueryFailed),
            (ffi::SQLITE_FULL, Stage::Run, QueryFailed),
        ];
        for (code, stage, kind) in table {
            assert_eq!(result_code_kind(code, stage), kind, "{code} {stage:?}");
        }
    }

    /// The real engine's errors, through `classify`: the kind follows the code, the code is
    /// kept, and the message is the scrubbed driver text.
    #[test]
    fn sqlite_errors_from_the_engine() {
        use crate::sqlite::{classify, classify_prepare};
        let r = Redactor::default();
        let conn = rusqlite::Connection::open_in_memory().expect("memory db");
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL UNIQUE CHECK (n < 10));
             CREATE TABLE s (id INTEGER PRIMARY KEY, n INTEGER) STRICT;
             INSERT INTO t VALUES (1, 1);",
        )
        .expect("schema");
        let prepare = |sql: &str| {
            conn.prepare(sql)
                .map(|_| ())
                .map_err(|e| classify_prepare(&e, &r))
        };
        let run = |sql: &str| conn.execute(sql, []).map_err(|e| classify(&e, &r));
        let cases: [(Result<(), crate::SourceError>, SourceErrorKind, i32); 6] = [
            (prepare("SELECT id FROM nope"), ObjectNotFound, 1),
            (prepare("SELECT nope FROM t"), ObjectNotFound, 1),
            (
                run("INSERT INTO t VALUES (2, 1)").map(drop),
                ConstraintViolation,
                2067,
            ),
            (
                run("INSERT INTO t VALUES (3, 11)").map(drop),
                ConstraintViolation,
                275,
            ),
            (
                run("INSERT INTO t VALUES ('x', 2)").map(drop),
                InvalidValue,
                20,
            ),
            (
                run("INSERT INTO s VALUES (1, 'x')").map(drop),
                InvalidValue,
                3091,
            ),
        ];
        for (result, kind, code) in cases {
            let e = result.expect_err("fails");
            assert_eq!(e.kind(), &kind, "{e}");
            assert_eq!(e.engine_code(), Some(EngineCode::Sqlite(code)), "{e}");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ro.db");
        rusqlite::Connection::open(&path)
            .and_then(|c| c.execute_batch("CREATE TABLE t (a int)"))
            .expect("file db");
        let readonly = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("read-only handle");
        let e = readonly
            .execute_batch("CREATE TABLE x (a int)")
            .map_err(|e| classify(&e, &r))
            .expect_err("read-only");
        assert!(e.is_read_only_violation(), "{e}");
    }

    #[test]
    fn mysql_server_errors_keep_their_code_and_hide_the_account() {
        let r = Redactor::new(["dbhost.internal"]);
        let server = |code: u16, message: &str| {
            crate::mysql::classify(
                &mysql_async::Error::Server(mysql_async::ServerError {
                    code,
                    message: message.into(),
                    state: "HY000".into(),
                }),
                &r,
            )
        };
        let auth = server(1045, "Access denied for user 'app'@'dbhost.internal'");
        assert_eq!(auth.kind(), &AuthenticationFailed);
        assert!(!auth.to_string().contains("app"), "{auth}");
        let value = server(
            1366,
            "Incorrect integer value: 'abc' for column 'id' at row 1",
        );
        assert_eq!(value.kind(), &InvalidValue);
        assert_eq!(value.engine_code(), Some(EngineCode::MySql(1366)));
        assert!(value.message().contains("column 'id'"), "{value}");
        // Message text that names another category never changes the kind.
        let other = server(1064, "permission denied; doesn't exist; READ ONLY");
        assert_eq!(other.kind(), &QueryFailed);
        assert!(!other.is_read_only_violation());
    }
}
