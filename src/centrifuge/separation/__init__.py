"""Everything ``centrifuge separate`` does: the :class:`~.inference.Separator` (segments,
overlap-add, re-ordering), one file in and a folder out (:mod:`.files`), which layers to
keep (:mod:`.selection`), the sound that picks a C3 layer (:mod:`.control_sound`), the
writers of layers, mosaic and contact sheet (:mod:`.sinks`) and ``report.html``
(:mod:`.report`)."""
