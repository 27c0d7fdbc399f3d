"""Realtime collaboration on documents: the y-websocket protocol, the durable update log,
rooms shared by every server process, and server-side CRDT changes.

- :mod:`.protocol`: strict decoding and encoding of y-protocols messages;
- :mod:`.storage`: the per-document update log and snapshots in PostgreSQL, compaction;
- :mod:`.rooms`: one in-memory room per loaded document and process, group commit of the
  log, fan-out to local sockets and to other processes through the channel layer;
- :mod:`.consumer`: the ``/ws/docs/<id>`` websocket endpoint;
- :mod:`.acl`: telling every process that who may do what on a subtree changed;
- :mod:`.changes`: CRDT changes made by the server (content API, version restore), which
  reach the log and live editors through the same path as a websocket edit.
"""
