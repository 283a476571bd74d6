//! Lingering close: when the server closes a connection whose client is still sending (a 413
//! answered before the body was read), closing the socket at once makes the kernel answer the
//! unread bytes with a reset, and a reset can destroy the response before the client reads it.
//! So the server half-closes (FIN after the response) and reads and discards what still
//! arrives, bounded in time and bytes, before it lets the socket go — what nginx calls
//! `lingering_close`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How long a closed connection keeps reading what its client still sends.
const LINGER_TIME: Duration = Duration::from_secs(2);
/// How much it reads and discards at most before letting go.
const LINGER_BYTES: usize = 16 << 20;

/// A TCP stream that, once the server has shut its writing half, drains the client's remaining
/// bytes in the background when dropped.
pub struct LingeringStream {
    stream: Option<TcpStream>,
    shut_down: bool,
}

impl LingeringStream {
    pub fn new(stream: TcpStream) -> Self {
        Self {
            stream: Some(stream),
            shut_down: false,
        }
    }

    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl AsyncRead for LingeringStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for LingeringStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = match this.stream() {
            Ok(stream) => Pin::new(stream).poll_shutdown(cx),
            Err(e) => return Poll::Ready(Err(e)),
        };
        if result.is_ready() {
            this.shut_down = true;
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.is_write_vectored())
    }
}

impl Drop for LingeringStream {
    fn drop(&mut self) {
        if !self.shut_down {
            return;
        }
        let (Some(stream), Ok(runtime)) = (self.stream.take(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        runtime.spawn(drain(stream));
    }
}

/// Reads and discards until the client closes, `LINGER_BYTES` have come or `LINGER_TIME` is up.
async fn drain(mut stream: TcpStream) {
    let mut buf = vec![0u8; 64 << 10];
    let mut read = 0usize;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while read < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// The server answers and closes while the client is still sending; the client must be able
    /// to finish sending and then read the whole answer (without lingering, the unread bytes make
    /// the kernel send a reset, and the client's next write fails before it reads the answer —
    /// what an HTTP client uploading a refused body sees).
    #[tokio::test]
    async fn a_client_still_sending_reads_the_answer_of_a_closed_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut stream = LingeringStream::new(stream);
            let mut head = [0u8; 1024];
            let _ = stream.read(&mut head).await.unwrap();
            stream.write_all(b"refused\n").await.unwrap();
            stream.shutdown().await.unwrap();
        });
        let client = TcpStream::connect(address).await.unwrap();
        let (mut reader, mut writer) = client.into_split();
        let sender = tokio::spawn(async move {
            let chunk = vec![b'x'; 64 << 10];
            for _ in 0..64 {
                writer.write_all(&chunk).await?;
                tokio::task::yield_now().await;
            }
            io::Result::Ok(())
        });
        server.await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut answer = Vec::new();
        reader.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"refused\n");
        sender.await.unwrap().expect("the client's body is read, not reset");
    }
}
