"""A person of a people index given a name: what an unknown group becomes once its best face is enrolled."""

from __future__ import annotations

from dataclasses import replace

from sphereapp.core.errors import InputError
from sphereapp.core.identities.store import clean_name
from sphereapp.core.index.report import VideoIndex


def name_person(index: VideoIndex, label: str, name: str) -> VideoIndex:
    """The index with the person labelled `label` called `name` (known from then on; the other rows unchanged).

    InputError when the index has no `label`, or when another of its people already goes by `name`.
    """
    name = clean_name(name)
    labels = [person.label for person in index.people]
    if label not in labels:
        raise InputError(f"no '{label}' in the index; its people are: {', '.join(labels) or 'none'}")
    if name != label and name in labels:
        raise InputError(f"'{name}' is already one of the people of this video: choose another name")
    return replace(index, people=tuple(replace(person, label=name, name=name) if person.label == label else person
                                       for person in index.people))
