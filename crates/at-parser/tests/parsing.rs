//! Command forms and parameter tokens (`at-engine.md` §4).

use at_parser::{parse_line, Args, Form, ParseError, Parsed, Token};

fn set_args(line: &[u8]) -> Args<'_> {
    match parse_line(line) {
        Ok(Parsed::Command {
            form: Form::Set(args),
            ..
        }) => args,
        other => panic!("not a set form: {other:?}"),
    }
}

fn tokens(parameters: &[u8]) -> Vec<Token<'_>> {
    Args::new(parameters).iter().collect()
}

fn string_bytes(token: Token<'_>) -> Vec<u8> {
    match token {
        Token::String(text) => text.bytes().collect(),
        other => panic!("not a String: {other:?}"),
    }
}

#[test]
fn at_alone_is_attention_with_or_without_terminator() {
    assert_eq!(parse_line(b"AT\r\n"), Ok(Parsed::Attention));
    assert_eq!(parse_line(b"AT"), Ok(Parsed::Attention));
}

#[test]
fn ate0_and_ate1_switch_echo() {
    assert_eq!(parse_line(b"ATE0\r\n"), Ok(Parsed::Echo(false)));
    assert_eq!(parse_line(b"ATE1\r\n"), Ok(Parsed::Echo(true)));
    assert_eq!(parse_line(b"ATE2\r\n"), Err(ParseError::Unsupported));
    assert_eq!(parse_line(b"ATE\r\n"), Err(ParseError::Unsupported));
    assert_eq!(parse_line(b"ATE01\r\n"), Err(ParseError::Unsupported));
}

#[test]
fn four_forms_after_a_name() {
    let command = |form| {
        Ok(Parsed::Command {
            name: b"TCVER",
            form,
        })
    };
    assert_eq!(parse_line(b"AT+TCVER\r\n"), command(Form::Execute));
    assert_eq!(parse_line(b"AT+TCVER?\r\n"), command(Form::Query));
    assert_eq!(parse_line(b"AT+TCVER=?\r\n"), command(Form::Test));
    assert_eq!(
        parse_line(b"AT+TCVER=1\r\n"),
        command(Form::Set(Args::new(b"1")))
    );
}

#[test]
fn name_allows_uppercase_digits_and_underscore() {
    assert_eq!(
        parse_line(b"AT+SYS_RAM2?\r\n"),
        Ok(Parsed::Command {
            name: b"SYS_RAM2",
            form: Form::Query
        })
    );
}

#[test]
fn lines_not_starting_with_uppercase_at_are_not_at() {
    for line in [
        &b"at+gmr\r\n"[..],
        b"At\r\n",
        b"aT\r\n",
        b"\r\n",
        b"A\r\n",
        b" AT\r\n",
        b"+TCVER\r\n",
    ] {
        assert_eq!(parse_line(line), Err(ParseError::NotAt), "{line:?}");
    }
}

#[test]
fn other_text_after_at_or_after_the_name_is_unsupported() {
    for line in [
        &b"ATX\r\n"[..],
        b"AT+\r\n",
        b"AT+tcver\r\n",
        b"AT+TCver\r\n",
        b"AT+TCMQTTCONN = 1\r\n",
        b"AT+TCVER ?\r\n",
        b"AT+TCVER??\r\n",
        b"AT+TCVER?=\r\n",
        b"AT +TCVER\r\n",
        b"AT+TC-VER\r\n",
        b"AT\r\r\n",
    ] {
        assert_eq!(parse_line(line), Err(ParseError::Unsupported), "{line:?}");
    }
}

#[test]
fn equals_question_without_full_terminator_is_a_set() {
    let args = set_args(b"AT+TCVER=?\r");
    assert_eq!(args.get(0), Some(Token::Bad));
}

#[test]
fn only_one_trailing_crlf_is_removed() {
    assert_eq!(parse_line(b"AT\r\n\r\n"), Err(ParseError::Unsupported));
}

#[test]
fn equals_question_with_more_text_is_a_set_whose_first_token_is_bad() {
    let args = set_args(b"AT+TCMQTTPUBL=?,1\r\n");
    assert_eq!(args.len(), 2);
    assert_eq!(args.get(0), Some(Token::Bad));
    assert_eq!(args.get(1), Some(Token::Integer(1)));
}

#[test]
fn empty_parameter_text_is_one_omitted_token() {
    let args = set_args(b"AT+X=\r\n");
    assert_eq!(args.len(), 1);
    assert_eq!(args.get(0), Some(Token::Omitted));
    assert_eq!(args.get(1), None);
}

#[test]
fn n_separators_give_n_plus_one_tokens() {
    assert_eq!(tokens(b",,"), vec![Token::Omitted; 3]);
    assert_eq!(
        tokens(b"1,,2,"),
        vec![
            Token::Integer(1),
            Token::Omitted,
            Token::Integer(2),
            Token::Omitted
        ]
    );
    assert_eq!(Args::new(b"\"a\",1,\"b\"").len(), 3);
}

#[test]
fn quotes_do_not_protect_commas() {
    assert_eq!(tokens(b"\"a,b\""), vec![Token::Bad, Token::Bad]);
}

#[test]
fn escaped_comma_does_not_split_and_is_unescaped() {
    let parsed = tokens(b"\"a\\,b\",2");
    assert_eq!(parsed.len(), 2);
    assert_eq!(string_bytes(parsed[0]), b"a,b");
    assert_eq!(parsed[1], Token::Integer(2));
}

#[test]
fn spec_escape_examples() {
    assert_eq!(string_bytes(tokens(b"\"abc\\\\\"")[0]), b"abc\\");
    assert_eq!(tokens(b"\"abc\\\"")[0], Token::Bad);
    assert_eq!(
        string_bytes(tokens(b"\"say \\\"hi\\\"\"")[0]),
        b"say \"hi\""
    );
    assert_eq!(string_bytes(tokens(b"\"\\a\\b\"")[0]), b"ab");
    // Unescaped inner quotes are kept as they are.
    assert_eq!(string_bytes(tokens(b"\"a\"b\"")[0]), b"a\"b");
}

#[test]
fn escaped_json_payload_of_tcmqttpub() {
    let args = set_args(b"AT+TCMQTTPUB=\"t/x\",0,\"{\\\"a\\\":1\\,\\\"b\\\":2}\"\r\n");
    assert_eq!(args.len(), 3);
    assert_eq!(string_bytes(args.get(2).unwrap()), b"{\"a\":1,\"b\":2}");
}

#[test]
fn string_tokens_keep_spaces_nul_cr_lf_and_high_bytes() {
    assert_eq!(string_bytes(tokens(b"\" a \"")[0]), b" a ");
    assert_eq!(string_bytes(tokens(b"\"\0x\r\n\xff\"")[0]), b"\0x\r\n\xff");
    assert_eq!(string_bytes(tokens(b"\"\"")[0]), b"");
}

#[test]
fn malformed_strings_are_bad() {
    for token in [
        &b"\""[..],
        b"\"abc",
        b"abc\"",
        b"\"a\" ",
        b" \"a\"",
        b"\"a\\",
    ] {
        assert_eq!(tokens(token), vec![Token::Bad], "{token:?}");
    }
}

#[test]
fn integers_are_signed_decimal_within_i32() {
    assert_eq!(tokens(b"0"), vec![Token::Integer(0)]);
    assert_eq!(tokens(b"-0"), vec![Token::Integer(0)]);
    assert_eq!(tokens(b"007"), vec![Token::Integer(7)]);
    assert_eq!(tokens(b"2147483647"), vec![Token::Integer(i32::MAX)]);
    assert_eq!(tokens(b"-2147483648"), vec![Token::Integer(i32::MIN)]);
}

#[test]
fn integer_lookalikes_are_bad() {
    for token in [
        &b"2147483648"[..],
        b"-2147483649",
        b"99999999999999999999",
        b"1.5",
        b"abc",
        b"+1",
        b"-",
        b" 1",
        b"1 ",
        b"0x10",
        b"1\\,2",
        b"?",
    ] {
        assert_eq!(tokens(token), vec![Token::Bad], "{token:?}");
    }
}

#[test]
fn quoted_integer_is_a_string() {
    assert_eq!(string_bytes(tokens(b"\"1\"")[0]), b"1");
}

#[test]
fn trailing_lone_backslash_does_not_hide_the_end_of_text() {
    assert_eq!(tokens(b"1,\\"), vec![Token::Integer(1), Token::Bad]);
    assert_eq!(tokens(b"\\,"), vec![Token::Bad]);
}

#[test]
fn quoted_str_helpers_use_unescaped_bytes() {
    let Token::String(text) = tokens(b"\"a\\\\b\\,c\"")[0] else {
        panic!("not a String")
    };
    assert_eq!(text.len(), 5);
    assert!(!text.is_empty());
    assert!(text.eq_bytes(b"a\\b,c"));
    assert!(!text.eq_bytes(b"a\\b,"));
    assert_eq!(text.escaped(), b"a\\\\b\\,c");
    assert_eq!(text.to_vec::<5>().unwrap().as_slice(), b"a\\b,c");
    assert_eq!(text.to_vec::<4>(), None);
}

#[test]
fn strings_with_different_escapes_but_equal_bytes_are_equal() {
    let left = tokens(b"\"\\a\\b\"")[0];
    let right = tokens(b"\"ab\"")[0];
    assert_eq!(left, right);
}

#[test]
fn args_get_matches_iter() {
    let args = Args::new(b"1,\"x\",,bad");
    let collected: Vec<_> = args.iter().collect();
    assert_eq!(collected.len(), args.len());
    for (index, token) in collected.iter().enumerate() {
        assert_eq!(args.get(index), Some(*token));
    }
    assert_eq!(args.get(4), None);
}

#[test]
fn parse_error_display_is_not_empty() {
    assert!(!ParseError::NotAt.to_string().is_empty());
    assert!(!ParseError::Unsupported.to_string().is_empty());
}

#[test]
fn tokens_beyond_the_recorded_spans_are_still_found() {
    let args = Args::new(b"0,1,2,3,4,5,6,7,8,\"nine\",10");
    let tokens = args.tokens();
    assert_eq!(tokens.len(), 11);
    assert_eq!(tokens.get(7), Some(Token::Integer(7)));
    assert_eq!(tokens.get(8), Some(Token::Integer(8)));
    assert!(matches!(tokens.get(9), Some(Token::String(text)) if text.eq_bytes(b"nine")));
    assert_eq!(tokens.get(10), Some(Token::Integer(10)));
    assert_eq!(tokens.get(11), None);
}

#[test]
fn split_tokens_classify_escaped_final_quotes_and_lone_backslashes() {
    let args = Args::new(b"\"a\\\",\"b\\\\\",\"c\\");
    let tokens = args.tokens();
    // `"a\"` ends in an escaped quote, so it runs on past the comma: one Bad token, then `"c\`.
    assert_eq!(tokens.len(), args.len());
    for index in 0..=args.len() {
        assert_eq!(tokens.get(index), args.get(index));
    }
}

#[test]
fn unescape_into_refuses_a_destination_too_small_and_leaves_it_empty() {
    let args = Args::new(b"\"ab\\,c\"");
    let Some(Token::String(text)) = args.tokens().get(0) else {
        panic!("not a String");
    };
    assert_eq!(text.len(), 4);
    let mut small = heapless::Vec::<u8, 3>::new();
    small.extend_from_slice(b"xyz").unwrap();
    assert!(!text.unescape_into(&mut small));
    assert!(small.is_empty());
    let mut exact = heapless::Vec::<u8, 4>::new();
    assert!(text.unescape_into(&mut exact));
    assert_eq!(exact.as_slice(), b"ab,c");
}
