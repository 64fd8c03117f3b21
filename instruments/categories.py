"""Instrument categories as people name them: the Chinese and English name of each category the
catalogue uses, and the words people type when they look for one (synonyms, as data).

An instrument stores its category as free text (``Instrument.category``, e.g. ``"SEM"``) and its
NRII category code; this table only helps search understand ``电镜`` or ``mass spec``. A category
missing here is still searchable by its own name and code; adding a row needs no code change.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    """One category: the name instruments carry, its names for people, and search synonyms."""

    name: str
    name_zh: str
    name_en: str
    synonyms: tuple[str, ...] = ()


CATEGORIES: tuple[Category, ...] = (
    Category(
        "NMR",
        "核磁共振波谱",
        "Nuclear magnetic resonance",
        ("核磁", "核磁共振", "波谱", "nmr spectrometer", "nuclear magnetic resonance"),
    ),
    Category(
        "SEM",
        "扫描电子显微镜",
        "Scanning electron microscope",
        ("电镜", "扫描电镜", "电子显微镜", "electron microscope", "electron microscopy", "fesem", "fe-sem"),
    ),
    Category(
        "TEM",
        "透射电子显微镜",
        "Transmission electron microscope",
        ("电镜", "透射电镜", "电子显微镜", "electron microscope", "electron microscopy", "cryo-em", "stem"),
    ),
    Category(
        "LC-MS",
        "液相色谱-质谱联用",
        "Liquid chromatography–mass spectrometry",
        ("质谱", "液质", "液质联用", "mass spec", "mass spectrometer", "mass spectrometry", "lcms", "hplc-ms"),
    ),
    Category(
        "GC-MS",
        "气相色谱-质谱联用",
        "Gas chromatography–mass spectrometry",
        ("质谱", "气质", "气质联用", "mass spec", "mass spectrometer", "mass spectrometry", "gcms"),
    ),
    Category(
        "ICP-MS",
        "电感耦合等离子体质谱",
        "Inductively coupled plasma mass spectrometry",
        ("质谱", "元素分析", "mass spec", "mass spectrometer", "mass spectrometry", "icpms", "trace elements"),
    ),
    Category(
        "XRD",
        "X 射线衍射",
        "X-ray diffraction",
        ("衍射", "x射线衍射", "xrd", "diffractometer", "x-ray diffraction", "crystal structure"),
    ),
    Category(
        "XPS",
        "X 射线光电子能谱",
        "X-ray photoelectron spectroscopy",
        ("光电子能谱", "能谱", "表面分析", "esca", "photoelectron", "surface analysis"),
    ),
    Category(
        "FTIR",
        "傅里叶变换红外光谱",
        "Fourier-transform infrared spectroscopy",
        ("红外", "红外光谱", "光谱", "infrared", "ir spectrometer", "spectroscopy"),
    ),
    Category(
        "Raman",
        "拉曼光谱",
        "Raman spectroscopy",
        ("拉曼", "光谱", "raman spectrometer", "spectroscopy"),
    ),
    Category(
        "AFM",
        "原子力显微镜",
        "Atomic force microscope",
        ("原子力", "扫描探针", "probe microscope", "spm", "microscope"),
    ),
    Category(
        "Confocal microscopy",
        "激光共聚焦显微镜",
        "Confocal microscopy",
        ("共聚焦", "荧光显微镜", "光学显微镜", "confocal", "fluorescence microscope", "microscope"),
    ),
    Category(
        "Cell imaging",
        "细胞成像",
        "Cell imaging",
        ("高内涵", "细胞成像", "成像", "high content", "imaging"),
    ),
    Category(
        "Flow cytometry",
        "流式细胞术",
        "Flow cytometry",
        ("流式", "流式细胞仪", "细胞分选", "facs", "cytometer", "cell sorter"),
    ),
    Category(
        "Thermal analysis",
        "热分析",
        "Thermal analysis",
        ("热重", "差示扫描量热", "tga", "dsc", "sta", "calorimeter", "thermogravimetric"),
    ),
    Category(
        "Particle size",
        "粒度分析",
        "Particle size analysis",
        ("粒度", "粒径", "激光粒度", "particle sizer", "laser diffraction"),
    ),
    Category(
        "Mechanical testing",
        "力学性能测试",
        "Mechanical testing",
        ("力学", "万能试验机", "拉伸", "疲劳", "冲击", "tensile", "fatigue", "impact", "testing machine"),
    ),
)
"""The categories of the demo catalogue (NRII codes 03xx/04xx), with the words people search by."""

BY_NAME: dict[str, Category] = {c.name.casefold(): c for c in CATEGORIES}


def category_of(name: str) -> Category | None:
    """The category row for an instrument's ``category`` text (case-insensitive), if there is one."""
    return BY_NAME.get(name.casefold())
