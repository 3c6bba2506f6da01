"""Implementations of :class:`actors.ports.MediaStorage`: ``local.py`` (a
folder under ``GROVER_DATA_DIR``, the default) and ``cloudinary.py``;
:func:`server.wiring.make_media_storage` picks one."""
