//! `tc-at-hub app softap|smartconfig|logs`: the peer as a command a user or a test runs
//! against a running module; it prints what happened and exits 0 only when the module did
//! what the mini program expects (and, with `--admin-port`, the hub saw the token bound).

use super::{command, exchange, outcome, random_token, LOG_QUERY};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Usage text.
pub const USAGE: &str = "\
usage: tc-at-hub app softap --ssid SSID --password PASSWORD [OPTIONS]
       tc-at-hub app smartconfig [--ssid SSID --password PASSWORD --control PATH] [OPTIONS]
       tc-at-hub app logs [--to ADDRESS]

  --ssid, --password  the router the module joins (softAP: sent in the command;
                      SmartConfig: injected through the board control socket --control)
  --token T           binding token (default: 32 random lowercase hex characters)
  --region R          the app's region (default: none sent, meaning ap-guangzhou)
  --to ADDRESS        the module's UDP server (default 127.0.0.1:8266; logs 127.0.0.1:9876)
  --admin-port N      the hub's admin port: wait until the device bound the token
  --wait-s N          how long to wait for the binding (default 60)

The router password is never printed.";

#[derive(Debug, Default)]
struct Arguments {
    mode: String,
    ssid: Option<String>,
    password: Option<String>,
    token: Option<String>,
    region: Option<String>,
    to: Option<SocketAddr>,
    control: Option<String>,
    admin_port: Option<u16>,
    wait_s: u64,
}

fn parse(mut arguments: impl Iterator<Item = String>) -> Result<Arguments, String> {
    let mode = arguments
        .next()
        .ok_or("missing softap, smartconfig or logs")?;
    if !matches!(mode.as_str(), "softap" | "smartconfig" | "logs") {
        return Err(format!("unknown app command {mode}"));
    }
    let mut parsed = Arguments {
        mode,
        wait_s: 60,
        ..Arguments::default()
    };
    while let Some(flag) = arguments.next() {
        let value = arguments.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number"))
        };
        match flag.as_str() {
            "--ssid" => parsed.ssid = Some(value),
            "--password" => parsed.password = Some(value),
            "--token" => parsed.token = Some(value),
            "--region" => parsed.region = Some(value),
            "--control" => parsed.control = Some(value),
            "--to" => parsed.to = Some(value.parse().map_err(|_| "--to: not an address")?),
            "--admin-port" => {
                parsed.admin_port = Some(u16::try_from(number()?).map_err(|_| "bad port")?);
            }
            "--wait-s" => parsed.wait_s = number()?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if parsed.mode == "softap" && (parsed.ssid.is_none() || parsed.password.is_none()) {
        return Err("softap needs --ssid and --password".into());
    }
    if parsed.control.is_some() && (parsed.ssid.is_none() || parsed.password.is_none()) {
        return Err("--control needs --ssid and --password".into());
    }
    Ok(parsed)
}

/// Runs `tc-at-hub app …` with the arguments after `app`.
pub fn main(arguments: impl Iterator<Item = String>) -> ExitCode {
    let arguments = match parse(arguments) {
        Ok(arguments) => arguments,
        Err(error) => {
            eprintln!("tc-at-hub app: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&arguments) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("tc-at-hub app: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(arguments: &Arguments) -> std::io::Result<bool> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let print = |answer: &[u8]| {
        let text = String::from_utf8_lossy(answer);
        for line in text.lines() {
            println!("received {line}");
        }
    };
    if arguments.mode == "logs" {
        let to = arguments.to.unwrap_or(([127, 0, 0, 1], 9876).into());
        println!("sent {LOG_QUERY} to {to}");
        let answers = exchange(
            &socket,
            to,
            LOG_QUERY.as_bytes(),
            Duration::from_secs(1),
            print,
        )?;
        println!("{} log answer(s)", answers.len());
        return Ok(!answers.is_empty());
    }
    if let Some(path) = &arguments.control {
        inject(path, arguments)?;
    }
    let token = arguments.token.clone().unwrap_or_else(random_token);
    let router = match (&arguments.mode[..], &arguments.ssid, &arguments.password) {
        ("softap", Some(ssid), Some(password)) => Some((ssid.as_str(), password.as_str())),
        _ => None,
    };
    let datagram = command(router, &token, arguments.region.as_deref());
    let shown = command(
        router.map(|(ssid, _)| (ssid, "***")),
        &token,
        arguments.region.as_deref(),
    );
    let to = arguments.to.unwrap_or(([127, 0, 0, 1], 8266).into());
    println!("sent {shown} to {to}");
    let answers = exchange(
        &socket,
        to,
        datagram.as_bytes(),
        Duration::from_millis(1500),
        print,
    )?;
    let outcome = outcome(&answers);
    for (kind, log) in &outcome.records {
        println!("module error record ({kind}): {log}");
    }
    let Some((pid, dn, region)) = outcome.device else {
        println!("no device reply: provisioning failed");
        return Ok(false);
    };
    println!(
        "device {pid}/{dn} (region {region}) replied {} time(s)",
        outcome.replies
    );
    let Some(admin_port) = arguments.admin_port else {
        return Ok(true);
    };
    let deadline = Instant::now() + Duration::from_secs(arguments.wait_s);
    while Instant::now() < deadline {
        if bound_tokens(admin_port, &pid, &dn)?.contains(&token) {
            println!("token {token} bound to {pid}/{dn}");
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    println!(
        "token {token} not bound to {pid}/{dn} within {} s",
        arguments.wait_s
    );
    Ok(false)
}

/// The `bound_tokens` of `GET /devices/{pid}/{dn}` on the hub's admin API.
fn bound_tokens(admin_port: u16, pid: &str, dn: &str) -> std::io::Result<Vec<String>> {
    let mut stream = TcpStream::connect(("127.0.0.1", admin_port))?;
    write!(
        stream,
        "GET /devices/{pid}/{dn} HTTP/1.1\r\nHost: localhost\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    Ok(value["bound_tokens"]
        .as_array()
        .map(|tokens| {
            tokens
                .iter()
                .filter_map(|token| token.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Hands the router credentials to the board as SmartConfig would, through its control
/// socket: one JSON line `{"op":"smartconfig","ssid":…,"password":…}`, one line back.
fn inject(path: &str, arguments: &Arguments) -> std::io::Result<()> {
    let line = serde_json::json!({
        "op": "smartconfig",
        "ssid": arguments.ssid,
        "password": arguments.password,
    });
    let mut stream = std::os::unix::net::UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    writeln!(stream, "{line}")?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    println!("control: {}", answer.trim_end());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn arguments(text: &str) -> impl Iterator<Item = String> + '_ {
        text.split_whitespace().map(str::to_owned)
    }

    #[test]
    fn bad_command_lines_are_refused() {
        assert!(parse(arguments("")).is_err());
        assert!(parse(arguments("dance")).is_err());
        assert!(parse(arguments("softap --ssid a")).is_err());
        assert!(parse(arguments("softap --ssid a --password")).is_err());
        assert!(parse(arguments("smartconfig --control /x")).is_err());
        assert!(parse(arguments("logs --to nowhere")).is_err());
        assert!(parse(arguments("logs --wait-s x")).is_err());
        assert!(parse(arguments("logs --colour red")).is_err());
        let parsed = parse(arguments(
            "softap --ssid a --password b --to 127.0.0.1:9 --admin-port 5",
        ))
        .unwrap();
        assert_eq!((parsed.admin_port, parsed.to.unwrap().port()), (Some(5), 9));
        assert!(parse(arguments("smartconfig --token t --region r")).is_ok());
    }
}
