"""Participants of the final essay: categories, forms, eligibility, and the submission columns.

The submission columns are the contract between municipalities and the collect stage: the
Russian header a МОУО writes and the field name the system uses (docs/submission-format.md).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CATEGORY_NAMES_RU",
    "COLUMN_ALIASES",
    "FORM_NAMES_RU",
    "REQUIRED_FIELDS",
    "SUBMISSION_COLUMNS",
    "Category",
    "Form",
    "may_write_exposition",
]


class Category(StrEnum):
    """Participant categories of DOMAIN.md §4 (order 001 §2)."""

    STUDENT = "student"  # обучающийся XI (XII) класса
    # в специальном учебно-воспитательном учреждении закрытого типа или в исправительном учреждении
    STUDENT_CLOSED = "student_closed"
    STUDENT_HOME = "student_home"  # на дому или в санатории по медицинскому заключению
    GRADUATE = "graduate"  # выпускник прошлых лет (ВПЛ)
    SPO = "spo"  # обучающийся по программе СПО
    FOREIGN_SCHOOL = "foreign_school"  # обучающийся в иностранной образовательной организации
    CERTIFICATE = "certificate"  # лицо со справкой об обучении


CATEGORY_NAMES_RU: dict[Category, str] = {
    Category.STUDENT: "Обучающийся 11 класса",
    Category.STUDENT_CLOSED: "Обучающийся в учреждении закрытого типа",
    Category.STUDENT_HOME: "Обучающийся на дому (санаторий) по медзаключению",
    Category.GRADUATE: "Выпускник прошлых лет",
    Category.SPO: "Обучающийся СПО",
    Category.FOREIGN_SCHOOL: "Обучающийся иностранной ОО",
    Category.CERTIFICATE: "Лицо со справкой об обучении",
}

# Categories who must write (grade 11 students); the rest take part voluntarily, essay only.
MANDATORY = frozenset({Category.STUDENT, Category.STUDENT_CLOSED, Category.STUDENT_HOME})


class Form(StrEnum):
    ESSAY = "essay"  # сочинение
    EXPOSITION = "exposition"  # изложение


FORM_NAMES_RU: dict[Form, str] = {Form.ESSAY: "сочинение", Form.EXPOSITION: "изложение"}


def may_write_exposition(category: Category, ovz: bool) -> bool:
    """The exposition is open only to grade 11 students who are ОВЗ participants, children with
    disabilities or disabled, study in a closed institution, or are taught at home or in a
    sanatorium on a medical conclusion. Voluntary categories (graduates of past years, СПО,
    foreign schools, study certificates) take part for university admission: essay only."""
    if category not in MANDATORY:
        return False
    return ovz or category in (Category.STUDENT_CLOSED, Category.STUDENT_HOME)


# Field name → Russian column header, in the order a МОУО file has them.
SUBMISSION_COLUMNS: dict[str, str] = {
    "surname": "Фамилия",
    "name": "Имя",
    "patronymic": "Отчество",
    "sex": "Пол",
    "birth_date": "Дата рождения",
    "document_type": "Тип документа",
    "document_series": "Серия документа",
    "document_number": "Номер документа",
    "snils": "СНИЛС",
    "category": "Категория участника",
    "school_code": "Код ОО",
    "class_name": "Класс",
    "form": "Форма (сочинение/изложение)",
    "oral": "Устная форма",
    "ovz": "ОВЗ",
    "ovz_document": "Документ, подтверждающий ОВЗ",
    "attempt": "Номер попытки",
}

# Fields every submission file must have as columns (a value may still be empty: the checks of
# the collect stage judge values). Patronymic, class, oral form, ОВЗ, its document and the
# attempt number may be left out: a file without them is read, and the reader reports them.
REQUIRED_FIELDS: tuple[str, ...] = (
    "surname",
    "name",
    "sex",
    "birth_date",
    "document_type",
    "document_series",
    "document_number",
    "snils",
    "category",
    "school_code",
    "form",
)

# Field → other headers municipalities write for it, besides the header of SUBMISSION_COLUMNS.
# The reader also ignores case, «ё», extra spaces, trailing punctuation, asterisks and footnote
# marks, and a note in parentheses («Дата рождения (ДД.ММ.ГГГГ)» is «Дата рождения»).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "surname": ("Фамилия участника",),
    "name": ("Имя участника",),
    "patronymic": ("Отчество участника", "Отчество (при наличии)"),
    "sex": ("Пол участника", "Пол (М/Ж)"),
    "birth_date": ("Дата рождения (ДД.ММ.ГГГГ)", "Дата рождения участника", "Дата рожд."),
    "document_type": (
        "Тип документа, удостоверяющего личность",
        "Вид документа, удостоверяющего личность",
        "Документ, удостоверяющий личность",
        "Вид документа",
        "Тип ДУЛ",
    ),
    "document_series": (
        "Серия",
        "Серия документа, удостоверяющего личность",
        "Серия паспорта",
        "Серия ДУЛ",
    ),
    "document_number": (
        "Номер",
        "Номер документа, удостоверяющего личность",
        "Номер паспорта",
        "Номер ДУЛ",
    ),
    "snils": (
        "СНИЛС участника",
        "Номер СНИЛС",
        "Страховой номер индивидуального лицевого счёта",
    ),
    "category": ("Категория", "Категория участника итогового сочинения"),
    "school_code": (
        "Код образовательной организации",
        "Код ОО участника",
        "Код школы",
    ),
    "class_name": ("Класс обучения",),
    "form": ("Форма участия", "Сочинение/изложение", "Сочинение или изложение"),
    "oral": ("В устной форме", "Устно"),
    "ovz": ("Участник с ОВЗ", "Наличие ОВЗ", "ОВЗ/инвалидность"),
    "ovz_document": ("Документ, подтверждающий статус ОВЗ", "Подтверждающий документ"),
    "attempt": ("Попытка", "Номер попытки участия"),
}
