//! Small `Read` adapters for the streaming paths.

use std::cell::Cell;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

/// Counts newlines as the parser consumes bytes (for line numbers in document mode).
pub(super) struct CountingReader<R> {
    pub(super) inner: R,
    pub(super) newlines: Rc<Cell<u64>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let nl = memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        if nl > 0 {
            self.newlines.set(self.newlines.get() + nl);
        }
        Ok(n)
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
