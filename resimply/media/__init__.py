"""Reading untrusted video files with PyAV: limits, frames and embedded subtitles.

`download` and `analyze.analyze_video` are async; everything else here is
synchronous, CPU- or I/O-bound work that `analyze_video` runs in an executor so
the event loop never blocks.
Modules are imported directly (``from resimply.media.probe import probe``) so that
importing the package does not load PyAV for callers that only parse subtitles.
"""
