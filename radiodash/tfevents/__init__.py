"""TensorBoard event files of a results folder: the decoder and the per-step table.

`EventDecoder` turns a file's bytes (fed in any pieces) into columnar scalar values;
`EventTable` keeps one table per file (one launch each) and stitches them into one row
per step. No file I/O: the run store reads the bytes.
"""
from .decoder import EventChunk, EventDecoder, Notice, concat, decode, decode_event
from .table import EventTable, event_file_time, is_event_file

__all__ = ["EventChunk", "EventDecoder", "Notice", "concat", "decode", "decode_event", "EventTable",
           "event_file_time", "is_event_file"]
