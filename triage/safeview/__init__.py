"""The safe view: an untrusted document becomes pixels in a box before a caseworker sees it.

A photo of a summons or a PDF of a medical note comes from someone the caseworker cannot vet: it may
be crafted to attack an image or PDF decoder, and its metadata may say where and on which phone it was
made. Following Dangerzone's two steps, ``safe_view(data)`` decodes the file in a separate process
with hard limits and no network (``triage.safeview.child``), takes back only raw pixels, and rebuilds
each page as a PNG here, without metadata; it also returns what the original's metadata revealed
(GPS position, device, dates, author, software) so the caseworker can warn and protect the person.

What it does not protect against: a flaw in the kernel or in the limits themselves, a decoder
exploit that only misleads (a picture that shows something else), or content that is itself
dangerous to read. It never opens a file with the laptop's own applications.
"""

from triage.safeview.sandbox import Limits, SafeView, detect_type, safe_view

__all__ = ["Limits", "SafeView", "detect_type", "safe_view"]
