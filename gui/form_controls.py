"""The Form control of the Generate tab (form, phrase bars, second endings)
and the section letters of the pieces a request makes. The rules of a form
are the service's (composer.services.form_plan, checked by
GenerateRequest.validate): the control only collects the values."""
from __future__ import annotations

import math

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QSpinBox, QVBoxLayout, QWidget

from composer.errors import ComposerError
from composer.services.defaults import AUTO, FORMS, FREE
from composer.services.primer import load_primer
from gui.settings import Settings

MAX_PHRASE_BARS = 64

FORM_TIP = ("auto: ABAC with phrases of a quarter of the length and second endings when the length is a multiple "
            "of 4 bars, else free (measured closest to folk tunes)\nfree: no plan\n"
            "AABB, AABA, ABAB, ABAC: one letter per phrase; "
            "a repeated letter brings its phrase back, and each phrase ends on a cadence")
PHRASE_TIP = "Bars per phrase; auto: the length divided by the number of phrases"
VARY_TIP = "Resample the last bar(s) of each repeated phrase: a second ending (--vary)"
NOT_MELODY_TIP = "Form plans bars and phrases: it needs a melody model (this {kind} model generates freely)"


class FormControl(QWidget):
    """Form (auto, free, AABB ...), phrase bars (0 = auto; shown for a named
    form) and a Second endings check box (for a named form)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.melody = True
        self.form = QComboBox()
        self.form.addItems(list(FORMS))
        self.form.setToolTip(FORM_TIP)
        self.phrase_bars = QSpinBox(minimum=0, maximum=MAX_PHRASE_BARS, suffix=" bars", prefix="phrases of ")
        self.phrase_bars.setSpecialValueText("phrases: auto")
        self.phrase_bars.setToolTip(PHRASE_TIP)
        self.vary = QCheckBox("Second endings")
        self.vary.setToolTip(VARY_TIP)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.form)
        top.addWidget(self.phrase_bars, 1)
        layout.addLayout(top)
        layout.addWidget(self.vary)
        self.form.currentTextChanged.connect(self._update)
        self._update()

    def named(self) -> bool:
        """A form of phrase letters is chosen (not auto or free)."""
        return self.form.currentText() not in (AUTO, FREE)

    def set_kind(self, kind: str) -> None:
        """Offer the form for melody models; greyed, with the reason, for the others."""
        self.melody = kind == "melody"
        self.setEnabled(self.melody)
        tip = "" if self.melody else NOT_MELODY_TIP.format(kind=kind)
        for widget, own in ((self.form, FORM_TIP), (self.phrase_bars, PHRASE_TIP), (self.vary, VARY_TIP)):
            widget.setToolTip(tip or own)

    def _update(self) -> None:
        named = self.named()
        self.phrase_bars.setVisible(named)
        self.vary.setVisible(named)

    def request_fields(self) -> dict:
        """form, phrase_bars, vary of a GenerateRequest: free for a model that is not melody."""
        if not self.melody:
            return dict(form=FREE, phrase_bars=None, vary=False)
        named = self.named()
        return dict(form=self.form.currentText(), phrase_bars=(self.phrase_bars.value() or None) if named else None,
                    vary=self.vary.isChecked() and named)

    def load(self, settings: Settings) -> None:
        index = self.form.findText(settings.get("generate/form"))
        self.form.setCurrentIndex(max(0, index))
        self.phrase_bars.setValue(min(MAX_PHRASE_BARS, max(0, settings.get("generate/phrase_bars"))))
        self.vary.setChecked(settings.get("generate/vary"))

    def save(self, settings: Settings) -> None:
        settings.set("generate/form", self.form.currentText())
        settings.set("generate/phrase_bars", self.phrase_bars.value())
        settings.set("generate/vary", self.vary.isChecked())


def form_sections(tokenizer, request) -> list[tuple[str, int, int]]:
    """The section letters (letter, first bar, last bar) of the pieces a model
    with `tokenizer` makes for a validated `request`: its FormSpec's spans,
    after the primer's bars (the plan counts new bars); [] for free, for a
    model that is not melody, and for a primer that cannot be read."""
    from composer.services.form_plan import planned_form  # (imports torch)
    spec = planned_form(tokenizer, request) if tokenizer is not None else None
    if spec is None:
        return []
    try:
        primer = None if request.primer is None else load_primer(request.primer)
    except ComposerError:
        return []
    bars = 0 if primer is None else math.ceil(primer.end_beat / primer.bar_length() - 1e-9)
    return spec.spans(bars + 1)
