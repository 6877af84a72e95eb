"""Excel export laid out like the study's tables 3 (open coding) and 4 (axial coding).

Sheets: 初始范畴 (table 3: initial category, material count, concepts joined with 、), 主范畴 (table 4:
one row per initial category with its main category and connotation), 角色 (roles), 阶段 (stages) and
概念 (one row per concept with its full path, for filtering).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..tables import write_xlsx
from .model import Codebook

CONCEPT_SEPARATOR = "、"


def codebook_sheets(codebook: Codebook) -> dict[str, pd.DataFrame]:
    initial_rows = [
        {
            "初始范畴": initial.name,
            "材料数量/份": initial.material_count,
            "初始概念": CONCEPT_SEPARATOR.join(codebook.concepts_of(initial.name)),
        }
        for initial in codebook.initial_categories
    ]
    initial_sheet = pd.DataFrame(initial_rows, columns=["初始范畴", "材料数量/份", "初始概念"])
    # Int64 keeps counts whole numbers and leaves unknown counts blank instead of NaN.
    initial_sheet["材料数量/份"] = initial_sheet["材料数量/份"].astype("Int64")

    main_rows = []
    for main in codebook.main_categories:
        for initial_name in codebook.initial_categories_of(main.name):
            main_rows.append(
                {
                    "主范畴": main.name,
                    "主范畴内涵": main.description,
                    "初始范畴": initial_name,
                    "范畴内涵": codebook.initial_category(initial_name).description,
                }
            )
    main_sheet = pd.DataFrame(main_rows, columns=["主范畴", "主范畴内涵", "初始范畴", "范畴内涵"])

    role_sheet = pd.DataFrame(
        [
            {"角色": role.name, "主范畴": CONCEPT_SEPARATOR.join(role.main_categories), "说明": role.description}
            for role in codebook.roles
        ],
        columns=["角色", "主范畴", "说明"],
    )
    stage_sheet = pd.DataFrame(
        [
            {
                "阶段": stage.name,
                "主范畴": CONCEPT_SEPARATOR.join(stage.main_categories),
                "贯穿各阶段": "是" if stage.spans_all_stages else "",
                "说明": stage.description,
            }
            for stage in codebook.stages
        ],
        columns=["阶段", "主范畴", "贯穿各阶段", "说明"],
    )
    concept_rows = []
    for concept in codebook.concepts:
        path = codebook.concept_path(concept.name)
        concept_rows.append(
            {
                "初始概念": concept.name,
                "初始范畴": path.initial,
                "主范畴": path.main,
                "角色": path.role or "",
                "说明": concept.description,
            }
        )
    concept_sheet = pd.DataFrame(concept_rows, columns=["初始概念", "初始范畴", "主范畴", "角色", "说明"])
    return {"初始范畴": initial_sheet, "主范畴": main_sheet, "角色": role_sheet, "阶段": stage_sheet, "概念": concept_sheet}


def write_codebook_xlsx(codebook: Codebook, path: str | Path) -> Path:
    return write_xlsx(codebook_sheets(codebook), path)
