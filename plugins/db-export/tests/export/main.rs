//! `db-export` run as a user runs it, the real binary against real
//! databases: one suite of scenarios, each run on SQLite, PostgreSQL and
//! MariaDB, plus the cases only one of them has, TLS to both servers, and
//! the streamed load of a CSV file.
//!
//! Server tests need `FLOW_TEST_POSTGRES_URL`, `FLOW_TEST_MYSQL_URL` and
//! their `_TLS_` variants (run `scripts/test`, or `eval` what
//! `scripts/pg-throwaway` and `scripts/mysql-throwaway` print). Without
//! one, its tests say they are skipped; with `CI` set, they fail.

mod backend;
mod only;
mod scenarios;
mod stream;
mod tls;

/// Each test of `$module` named in the list, as one test per database
/// named: `on_databases!(scenarios on [sqlite, mysql]: first_load)` makes
/// `sqlite::first_load` and `mysql::first_load`.
macro_rules! on_databases {
    ($module:ident on [$($db:ident),*]: $names:tt) => {
        $( on_databases!(@one $db $module $names); )*
    };
    (@one sqlite $module:ident [$($name:ident),* $(,)?]) => {
        mod sqlite {
            $(
                #[test]
                fn $name() -> crate::backend::TestResult {
                    crate::$module::$name(&crate::backend::Backend::sqlite()?)
                }
            )*
        }
    };
    (@one $db:ident $module:ident [$($name:ident),* $(,)?]) => {
        mod $db {
            $(
                #[test]
                fn $name() -> crate::backend::TestResult {
                    match crate::backend::Backend::$db(stringify!($name))? {
                        Some(db) => crate::$module::$name(&db),
                        None => Ok(()),
                    }
                }
            )*
        }
    };
}

on_databases!(scenarios on [sqlite, postgres, mysql]: [
    first_load,
    repeated_load,
    changed_file,
    refused_row_late_in_the_file_leaves_the_table_as_before,
    kill_in_the_middle_leaves_the_table_as_before,
    table_without_a_unique_key_is_explained,
    columns_that_differ_are_named_and_nothing_changes,
    replace_mode_recreates_the_table_from_the_file,
    type_that_differs_is_named,
    missing_key_column,
    duplicate_keys_are_named_with_their_rows,
    empty_key,
    excel_input_and_receipt,
    every_type_round_trips_and_upsert_matches_first_load,
    a_table_of_other_types_is_loaded_through_conversion,
]);

/// The streamed load of a CSV file, on every database:
/// `streamed::sqlite::NAME`, `streamed::postgres::NAME`, `streamed::mysql::NAME`.
mod streamed {
    on_databases!(stream on [sqlite, postgres, mysql]: [
        a_sorted_file_is_streamed_and_stores_what_the_whole_file_reader_stores,
        an_odd_value_makes_the_stream_give_way_and_the_whole_reader_load_it,
        a_stream_that_gives_way_late_leaves_only_the_whole_load,
        a_late_repeated_key_is_named_and_nothing_is_written,
        a_late_repeated_key_leaves_an_existing_table_as_it_was,
        an_empty_column_fits_the_table_through_the_whole_reader,
    ]);
}
