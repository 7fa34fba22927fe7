"""The port speech-recognition engines are reached through.

Kept apart from :class:`~llmaas.ports.backends.InferenceBackend` so that engines which cannot hear
(chat, embeddings) need no stub: the transcription service asks a deployment's backend whether it is a
:class:`SpeechRecognizer` and refuses the model otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from llmaas.domain.transcripts import AudioInfo, Segment, SpeechJob

TranscriptEvent = AudioInfo | Segment
"""An engine yields the :class:`AudioInfo` first, then each :class:`Segment` as it is recognised."""


@runtime_checkable
class SpeechRecognizer(Protocol):
    def transcribe(self, job: SpeechJob) -> AsyncIterator[TranscriptEvent]:
        """Segments as they are recognised, so a long file can be streamed and never held whole.

        Raises :class:`~llmaas.domain.errors.InvalidRequest` for audio that cannot be decoded.
        """
        ...
