"""Reading untrusted video files with PyAV: limits, frames and embedded subtitles.

Everything here except `analyze.analyze_video` is synchronous and CPU- or
I/O-bound; the pipeline runs it in an executor so the event loop never blocks.
Modules are imported directly (``from resimply.media.probe import probe``) so that
importing the package does not load PyAV for callers that only parse subtitles.
"""
