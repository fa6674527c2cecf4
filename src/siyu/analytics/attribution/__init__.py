"""Attribution: the ``attribution`` runner (``runner``) over the models as pure functions
(``models``)."""
