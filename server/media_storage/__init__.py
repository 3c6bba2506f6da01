"""Implementations of :class:`actors.ports.MediaStorage`: a local folder
(``local.py``, under ``GROVER_DATA_DIR``, the default) and Cloudinary
(``cloudinary.py``, when ``CLOUDINARY_URL`` is set).
:func:`server.wiring.make_media_storage` picks one."""
