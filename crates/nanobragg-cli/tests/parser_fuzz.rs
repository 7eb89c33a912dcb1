//! Property tests of the parser: arbitrary argument lists never panic, and well-formed ones
//! (a flag followed by values of the kind it takes) always parse.

mod common;

use common::strategies::{token, well_formed_occurrence};
use nanobragg_cli::{flag_table, parse_args, CliError};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn random_argument_lists_never_panic(args in proptest::collection::vec(token(), 0..24)) {
        match parse_args(args) {
            Ok(_) => {}
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.is_empty());
                prop_assert!(!msg.contains('\n'), "multi-line error: {msg}");
            }
        }
    }

    #[test]
    fn well_formed_command_lines_parse(
        occs in proptest::collection::vec(well_formed_occurrence(), 0..16)
    ) {
        let args: Vec<String> = occs.concat();
        let res = parse_args(args.clone());
        prop_assert!(res.is_ok(), "{:?} -> {:?}", args, res.err());
    }

    #[test]
    fn unknown_flags_are_reported_by_name(junk in "-[a-z_]{1,12}") {
        prop_assume!(flag_table().iter().all(|s| !s.names.contains(&junk.as_str())));
        prop_assert_eq!(parse_args(vec![junk.clone()]), Err(CliError::UnknownFlag(junk)));
    }
}
