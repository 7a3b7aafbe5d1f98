//! The sink spoken to directly over TCP, the way a hand-written client would.

use std::time::Duration;

use oes_mail::sink::SmtpSink;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    async fn connect(sink: &SmtpSink) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", sink.port()))
            .await
            .expect("connect");
        let mut client = Self {
            stream: BufReader::new(stream),
        };
        assert!(client.reply().await.starts_with("220 "));
        client
    }

    /// Reads one (possibly multi-line) reply and returns its last line.
    async fn reply(&mut self) -> String {
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await.expect("read");
            assert!(!line.is_empty(), "connection closed");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_owned();
            }
        }
    }

    async fn send(&mut self, command: &str) -> String {
        self.stream
            .get_mut()
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .expect("write");
        self.reply().await
    }
}

#[tokio::test]
async fn helo_rset_and_data_with_dot_stuffing_work_over_raw_tcp() {
    let sink = SmtpSink::start().await.expect("sink starts");
    let mut client = Client::connect(&sink).await;

    assert!(client.send("HELO client.example").await.starts_with("250"));
    assert!(
        client
            .send("MAIL FROM:<first@example.com>")
            .await
            .starts_with("250")
    );
    assert!(client.send("RSET").await.starts_with("250"));
    assert!(client.send("NOOP").await.starts_with("250"));
    assert!(
        client
            .send("mail from:<a@example.com> BODY=8BITMIME")
            .await
            .starts_with("250")
    );
    assert!(
        client
            .send("RCPT TO:<b@example.com>")
            .await
            .starts_with("250")
    );
    assert!(
        client
            .send("RCPT TO:<c@example.com>")
            .await
            .starts_with("250")
    );
    assert!(client.send("DATA").await.starts_with("354"));
    let reply = client
        .send("Subject: dots\r\n\r\n..leading dot\r\n...\r\nend\r\n.")
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    assert!(client.send("QUIT").await.starts_with("221"));

    let received = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].mail_from, "a@example.com");
    assert_eq!(received[0].rcpt_to, ["b@example.com", "c@example.com"]);
    assert_eq!(
        received[0].data_str(),
        "Subject: dots\r\n\r\n.leading dot\r\n..\r\nend\r\n"
    );
}

#[tokio::test]
async fn commands_out_of_order_get_503_and_nothing_is_stored() {
    let sink = SmtpSink::start().await.expect("sink starts");
    let mut client = Client::connect(&sink).await;

    assert!(client.send("EHLO client.example").await.starts_with("250"));
    assert!(
        client
            .send("RCPT TO:<b@example.com>")
            .await
            .starts_with("503")
    );
    assert!(client.send("DATA").await.starts_with("503"));
    assert!(
        client
            .send("MAIL FROM:<a@example.com>")
            .await
            .starts_with("250")
    );
    assert!(
        client
            .send("MAIL FROM:<a@example.com>")
            .await
            .starts_with("503")
    );
    assert!(client.send("DATA").await.starts_with("503"));
    assert!(client.send("STARTTLS").await.starts_with("502"));
    assert!(client.send("QUIT").await.starts_with("221"));

    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn ehlo_offers_neither_starttls_nor_auth() {
    let sink = SmtpSink::start().await.expect("sink starts");
    let mut client = Client::connect(&sink).await;
    client
        .stream
        .get_mut()
        .write_all(b"EHLO client.example\r\n")
        .await
        .expect("write");

    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        client.stream.read_line(&mut line).await.expect("read");
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line.trim_end().to_ascii_uppercase());
        if last {
            break;
        }
    }

    assert!(
        lines.iter().all(|line| line.starts_with("250")),
        "{lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|line| line.contains("STARTTLS") || line.contains("AUTH")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|line| line.contains("8BITMIME")),
        "{lines:?}"
    );
}
