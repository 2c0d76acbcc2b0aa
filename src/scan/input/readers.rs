//! Small `Read` adapters for the streaming paths.

use std::cell::Cell;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

/// The buffered reader of a streamed document: counts newlines as the parser consumes
/// bytes (for line numbers) and can look ahead at the next value without consuming it.
pub(super) struct DocReader<R> {
    inner: R,
    buf: Box<[u8]>,
    /// `buf[pos..len]` is read but not consumed.
    pos: usize,
    len: usize,
    newlines: Rc<Cell<u64>>,
}

impl<R: Read> DocReader<R> {
    pub(super) fn new(inner: R, newlines: Rc<Cell<u64>>) -> Self {
        DocReader {
            inner,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            pos: 0,
            len: 0,
            newlines,
        }
    }

    /// Consumes whitespace (counting its newlines), then returns up to `n` bytes from the
    /// next non-whitespace byte on, without consuming them. Empty at the end of input.
    pub(super) fn skip_ws_and_peek(&mut self, n: usize) -> io::Result<&[u8]> {
        loop {
            while self.pos < self.len && matches!(self.buf[self.pos], b' ' | b'\t' | b'\n' | b'\r')
            {
                if self.buf[self.pos] == b'\n' {
                    self.newlines.set(self.newlines.get() + 1);
                }
                self.pos += 1;
            }
            if self.pos < self.len {
                break;
            }
            if !self.refill()? {
                return Ok(&[]);
            }
        }
        if self.len - self.pos < n {
            // Move the unread bytes to the front and read more behind them.
            self.buf.copy_within(self.pos..self.len, 0);
            self.len -= self.pos;
            self.pos = 0;
            while self.len < n.min(self.buf.len()) {
                let got = read_retry(&mut self.inner, &mut self.buf[self.len..])?;
                if got == 0 {
                    break;
                }
                self.len += got;
            }
        }
        Ok(&self.buf[self.pos..self.len.min(self.pos + n)])
    }

    /// Reads a new buffer once the current one is consumed; false at the end of input.
    fn refill(&mut self) -> io::Result<bool> {
        self.pos = 0;
        self.len = read_retry(&mut self.inner, &mut self.buf)?;
        Ok(self.len > 0)
    }
}

impl<R: Read> Read for DocReader<R> {
    // serde_json reads one byte at a time: keep that path short.
    #[inline]
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len && !self.refill()? {
            return Ok(0);
        }
        let n = out.len().min(self.len - self.pos);
        let chunk = &self.buf[self.pos..self.pos + n];
        out[..n].copy_from_slice(chunk);
        let nl = match chunk {
            [b] => u64::from(*b == b'\n'),
            _ => memchr::memchr_iter(b'\n', chunk).count() as u64,
        };
        if nl > 0 {
            self.newlines.set(self.newlines.get() + nl);
        }
        self.pos += n;
        Ok(n)
    }
}

fn read_retry<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Reads the rest of one line of a `BufRead` (without its `\n`) as a `Read` that ends at
/// the line end.
pub(super) struct LineReader<'r, R> {
    inner: &'r mut R,
    /// Bytes of the current buffer before the next `\n` (or buffer end) not yet yielded.
    run: usize,
    /// Whether a `\n` follows `run`.
    newline_follows: bool,
    /// The line is finished (its `\n` consumed, or end of input).
    done: bool,
    /// The underlying input is exhausted.
    pub(super) end_of_input: bool,
}

impl<'r, R: BufRead> LineReader<'r, R> {
    pub(super) fn new(inner: &'r mut R) -> Self {
        LineReader {
            inner,
            run: 0,
            newline_follows: false,
            done: false,
            end_of_input: false,
        }
    }

    /// Skips the rest of the line.
    pub(super) fn drain(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        while self.read(&mut buf)? > 0 {}
        Ok(())
    }
}

impl<R: BufRead> Read for LineReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.run == 0 {
            if self.newline_follows {
                self.inner.consume(1);
                self.newline_follows = false;
                self.done = true;
                return Ok(0);
            }
            let avail = self.inner.fill_buf()?;
            if avail.is_empty() {
                self.done = true;
                self.end_of_input = true;
                return Ok(0);
            }
            match memchr::memchr(b'\n', avail) {
                Some(0) => {
                    self.inner.consume(1);
                    self.done = true;
                    return Ok(0);
                }
                Some(i) => {
                    self.run = i;
                    self.newline_follows = true;
                }
                None => self.run = avail.len(),
            }
        }
        // fill_buf returns the current buffer without reading while it is not empty.
        let avail = self.inner.fill_buf()?;
        let n = self.run.min(buf.len()).min(avail.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.inner.consume(n);
        self.run -= n;
        Ok(n)
    }
}
