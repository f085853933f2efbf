//! The AT-parser workload: what an MCU typically sends, pushed through the whole receive path.
//!
//! A measurement is only useful if it exercises what the firmware does per received byte: the
//! framer finding line ends in UART-sized chunks, `parse_line` recognising the form, and the
//! handler walking every token (and unescaping every string). Publishing escaped JSON
//! dominates a real session's bytes, so it dominates the mix too.

use std::hint::black_box;

use at_parser::{parse_line, Form, Framed, Framer, Parsed, Token};

/// How many bytes one UART read hands to the framer (a typical FIFO/DMA chunk).
pub const CHUNK: usize = 64;

/// One round of a device session, in the order an MCU would send it.
const ROUND: [&str; 10] = [
    "AT\r\n",
    "AT+TCMQTTSTATE?\r\n",
    "AT+TCDEVINFOSET=1,\"CTQS08Y5LG\",\"Dev01\",\"k3Zq8cB1vP+Lx0T2mY9wRg==\",\"ap-guangzhou\"\r\n",
    "AT+TCDEVINFOSET?\r\n",
    "AT+TCMQTTSUB=\"$thing/down/property/CTQS08Y5LG/Dev01\",0\r\n",
    "AT+TCMQTTPUB=\"$thing/up/property/CTQS08Y5LG/Dev01\",1,\"{\\\"method\\\":\\\"report\\\"\\,\\\"clientToken\\\":\\\"a1b2c-17\\\"\\,\\\"params\\\":{\\\"temperature\\\":23\\,\\\"humidity\\\":41}}\"\r\n",
    "AT+TCMQTTSUB?\r\n",
    "AT+TCMQTTPUB=\"$thing/up/event/CTQS08Y5LG/Dev01\",0,\"{\\\"method\\\":\\\"event_post\\\"\\,\\\"eventId\\\":\\\"status_report\\\"\\,\\\"type\\\":\\\"info\\\"\\,\\\"params\\\":{\\\"status\\\":1\\,\\\"message\\\":\\\"ok\\\"}}\"\r\n",
    "AT+CWJAP?\r\n",
    "AT+TCMQTTCONN=1,5000,240,1,1\r\n",
];

/// What one pass over a stream saw; compared across runs so the optimiser cannot drop work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Lines framed and parsed as commands.
    pub commands: usize,
    /// Parameter tokens visited.
    pub tokens: usize,
    /// A fold over every integer and every unescaped string byte.
    pub checksum: u64,
}

/// Returns `rounds` copies of the session mix as one byte stream.
pub fn stream(rounds: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for _ in 0..rounds {
        for line in ROUND {
            bytes.extend_from_slice(line.as_bytes());
        }
    }
    bytes
}

/// Number of command lines in one round.
pub const LINES_PER_ROUND: usize = ROUND.len();

/// Feeds `stream` to `framer` in [`CHUNK`]-byte reads and handles every line as the engine
/// would before dispatch.
///
/// # Panics
///
/// Panics if a line is rejected or does not parse: the mix is valid by construction, so either
/// means the parser changed behaviour and the figures would be meaningless.
pub fn process<const N: usize>(framer: &mut Framer<N>, stream: &[u8]) -> Summary {
    let mut summary = Summary::default();
    for chunk in stream.chunks(CHUNK) {
        let accepted = framer.feed(chunk);
        assert_eq!(accepted, chunk.len(), "receive buffer overflowed");
        while let Some(framed) = framer.next_line() {
            match framed {
                Framed::Line(line) => handle(&line, &mut summary),
                Framed::Empty => {}
                Framed::Rejected => panic!("a benchmark line was rejected"),
            }
            // None of the mix enters data mode; release in case a future line does.
            framer.release_barrier();
        }
    }
    black_box(summary)
}

fn handle(line: &[u8], summary: &mut Summary) {
    let parsed = parse_line(black_box(line)).expect("benchmark lines are valid commands");
    summary.commands += 1;
    let Parsed::Command { name, form } = parsed else {
        return;
    };
    summary.checksum = fold(summary.checksum, name.len() as u64);
    let Form::Set(arguments) = form else {
        return;
    };
    for token in arguments.iter() {
        summary.tokens += 1;
        match token {
            Token::Integer(value) => summary.checksum = fold(summary.checksum, value as u64),
            Token::String(text) => {
                for byte in text.bytes() {
                    summary.checksum = fold(summary.checksum, u64::from(byte));
                }
            }
            Token::Omitted | Token::Bad => summary.checksum = fold(summary.checksum, 1),
        }
    }
}

/// A cheap order-sensitive fold (FNV-1a step), so every visited byte influences the result.
fn fold(state: u64, value: u64) -> u64 {
    (state ^ value).wrapping_mul(0x0000_0100_0000_01b3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_the_mix_parses_and_every_token_is_visited() {
        let mut framer = Framer::<4608>::new();
        let summary = process(&mut framer, &stream(3));
        assert_eq!(summary.commands, 3 * LINES_PER_ROUND);
        // Set forms: DEVINFOSET 5, SUB 2, PUB 3, PUB 3, CONN 5 tokens per round.
        assert_eq!(summary.tokens, 3 * 18);
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn escaped_json_is_a_single_string_token() {
        let publish = ROUND[5].as_bytes();
        let Ok(Parsed::Command {
            form: Form::Set(arguments),
            ..
        }) = parse_line(publish)
        else {
            panic!("the publish line must be a set form");
        };
        assert_eq!(arguments.iter().count(), 3);
        let Some(Token::String(payload)) = arguments.get(2) else {
            panic!("the payload must be a string");
        };
        let unescaped: Vec<u8> = payload.bytes().collect();
        assert!(unescaped.starts_with(b"{\"method\":\"report\","));
    }

    #[test]
    fn repeated_passes_see_the_same_work() {
        let bytes = stream(2);
        let mut framer = Framer::<4608>::new();
        let first = process(&mut framer, &bytes);
        assert_eq!(process(&mut framer, &bytes), first);
    }

    #[test]
    fn every_line_fits_the_parser_line_limit() {
        for line in ROUND {
            assert!(line.len() <= at_parser::MAX_LINE, "{line}");
        }
    }
}
