"""Field definitions of the simulated company: built-in fields and custom fields of every Pipedrive type.

Custom fields are keyed by 40-hex hashes that differ per account (as in Pipedrive). Some custom field names
deliberately collide with built-in names (a custom "Title" and "Value" on deals, "Email" on persons,
"Address" on organizations, "Category" on products) or with each other (two deal fields named "Region"), so
that a consumer's name-collision handling can be tested.

Value shapes (`custom_fields` in API v2; top-level keys in API v1):

| type | v2 value | v1 keys |
|---|---|---|
| varchar, varchar_auto, text, phone | string | `key`: string |
| double | number | `key`: number |
| monetary | `{"value", "currency"}` | `key`: number, `key_currency`: code |
| enum | option id | `key`: option id |
| set | list of option ids | `key`: comma-separated option ids |
| date | `YYYY-MM-DD` | `key` |
| daterange | `{"value", "until"}` dates | `key`: start, `key_until`: end |
| time | `{"value", "timezone_id", "timezone_name"}` | `key`: `HH:MM:SS` |
| timerange | `{"value", "until", "timezone_id", "timezone_name"}` | `key`: start, `key_until`: end |
| user, org, people | id | `key`: object with `value` = id and the name |
| address | object with `value` and the address subfields (null when unset) | `key`: value, `key_<subfield>` |

The v2 shapes are those of the "Custom Fields" section of Pipedrive's API v2 migration guide
(https://pipedrive.readme.io/docs/pipedrive-api-v2-migration-guide); the v2 spec itself only documents
monetary, enum and set values. A field's `subfields` name the keys of its v2 object value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

ADDRESS_PARTS = (
    "subpremise",
    "street_number",
    "route",
    "sublocality",
    "locality",
    "admin_area_level_1",
    "admin_area_level_2",
    "country",
    "postal_code",
    "formatted_address",
)


@dataclass(frozen=True)
class Option:
    id: int
    label: str
    color: str | None = None


@dataclass(frozen=True)
class FieldDef:
    """One field of an entity, as the fields endpoints describe it.

    `key` is the v2 `field_code` (and the custom field hash); `v1_key` the v1 `key` where it differs.
    """

    key: str
    name: str
    field_type: str
    is_custom: bool = False
    options: tuple[Option, ...] | None = None
    v1_key: str | None = None
    v1_type: str | None = None
    words: tuple[str, ...] = ()
    fill_rate: float = 0.7
    mandatory: bool = False
    order_nr: int = 0
    id: int = 0
    subfields: tuple[tuple[str, str, str], ...] = field(default=())

    @property
    def v1_field_key(self) -> str:
        return self.v1_key or self.key

    @property
    def v1_field_type(self) -> str:
        return self.v1_type or self.field_type


def _subfields(key: str, name: str, field_type: str) -> tuple[tuple[str, str, str], ...]:
    if field_type == "monetary":
        return (("value", f"Amount of {name}", "double"), ("currency", f"Currency of {name}", "varchar"))
    zone = (
        ("timezone_id", f"Time zone id of {name}", "int"),
        ("timezone_name", f"Time zone of {name}", "varchar"),
    )
    if field_type == "daterange":
        return (("value", f"Start of {name}", "date"), ("until", f"End of {name}", "date"))
    if field_type == "timerange":
        return (("value", f"Start of {name}", "time"), ("until", f"End of {name}", "time"), *zone)
    if field_type == "time":
        return (("value", name, "time"), *zone)
    if field_type == "address":
        return (("value", name, "varchar"),) + tuple(
            (part, f"{part.replace('_', ' ').capitalize()} of {name}", "varchar") for part in ADDRESS_PARTS
        )
    return ()


# Built-in fields: (v2 field_code, v1 key or None, name, v2 type, v1 type or None)
_BUILTIN: dict[str, tuple[tuple[str, str | None, str, str, str | None], ...]] = {
    "deals": (
        ("id", None, "ID", "int", None),
        ("title", None, "Title", "varchar", None),
        ("creator_user_id", None, "Creator", "user", None),
        ("owner_id", "user_id", "Owner", "user", None),
        ("value", None, "Value", "monetary", None),
        ("person_id", None, "Contact person", "people", None),
        ("org_id", None, "Organization", "org", None),
        ("pipeline_id", "pipeline", "Pipeline", "int", "pipeline"),
        ("stage_id", None, "Stage", "stage", None),
        ("status", None, "Status", "status", None),
        ("probability", None, "Probability", "double", None),
        ("lost_reason", None, "Lost reason", "varchar", None),
        ("visible_to", None, "Visible to", "visible_to", None),
        ("add_time", None, "Deal created", "date", None),
        ("update_time", None, "Update time", "date", None),
        ("stage_change_time", None, "Last stage change", "date", None),
        ("close_time", None, "Deal closed on", "date", None),
        ("won_time", None, "Won time", "date", None),
        ("lost_time", None, "Lost time", "date", None),
        ("expected_close_date", None, "Expected close date", "date", None),
        ("label_ids", "label", "Label", "set", None),
        ("origin", None, "Source origin", "varchar", None),
        ("channel", None, "Source channel", "enum", None),
    ),
    "persons": (
        ("id", None, "ID", "int", None),
        ("name", None, "Name", "varchar", None),
        ("first_name", None, "First name", "varchar", None),
        ("last_name", None, "Last name", "varchar", None),
        ("owner_id", None, "Owner", "user", None),
        ("org_id", None, "Organization", "org", None),
        ("emails", "email", "Email", "varchar", None),
        ("phones", "phone", "Phone", "phone", None),
        ("label_ids", "label", "Label", "set", None),
        ("visible_to", None, "Visible to", "visible_to", None),
        ("postal_address", None, "Postal address", "address", None),
        ("birthday", None, "Birthday", "date", None),
        ("job_title", None, "Job title", "varchar", None),
        ("add_time", None, "Person created", "date", None),
        ("update_time", None, "Update time", "date", None),
    ),
    "organizations": (
        ("id", None, "ID", "int", None),
        ("name", None, "Name", "varchar", None),
        ("owner_id", None, "Owner", "user", None),
        ("address", None, "Address", "address", None),
        ("label_ids", "label", "Label", "set", None),
        ("visible_to", None, "Visible to", "visible_to", None),
        ("website", None, "Website", "varchar", None),
        ("linkedin", None, "LinkedIn profile", "varchar", None),
        ("industry", None, "Industry", "enum", None),
        ("annual_revenue", None, "Annual revenue", "double", None),
        ("employee_count", None, "Number of employees", "int", None),
        ("add_time", None, "Organization created", "date", None),
        ("update_time", None, "Update time", "date", None),
    ),
    "products": (
        ("id", None, "ID", "int", None),
        ("name", None, "Name", "varchar", None),
        ("code", None, "Product code", "varchar", None),
        ("description", None, "Description", "text", None),
        ("unit", None, "Unit", "varchar", None),
        ("tax", None, "Tax", "double", None),
        ("category", None, "Category", "enum", None),
        ("owner_id", None, "Owner", "user", None),
        ("visible_to", None, "Visible to", "visible_to", None),
        ("prices", None, "Price", "price_list", None),
        ("billing_frequency", None, "Billing frequency", "billing_frequency", None),
        ("add_time", None, "Product created", "date", None),
        ("update_time", None, "Update time", "date", None),
    ),
    "activities": (
        ("id", None, "ID", "int", None),
        ("subject", None, "Subject", "varchar", None),
        ("type", None, "Type", "varchar", None),
        ("owner_id", "user_id", "Assigned to user", "user", None),
        ("deal_id", None, "Deal", "deal", None),
        ("person_id", None, "Contact person", "people", None),
        ("org_id", None, "Organization", "org", None),
        ("due_date", None, "Due date", "date", None),
        ("due_time", None, "Due time", "time", None),
        ("duration", None, "Duration", "time", None),
        ("busy", "busy_flag", "Free/busy", "boolean", None),
        ("done", None, "Done", "boolean", None),
        ("location", None, "Location", "address", None),
        ("note", None, "Note", "text", None),
        ("public_description", None, "Public description", "text", None),
        ("add_time", None, "Add time", "date", None),
        ("update_time", None, "Update time", "date", None),
    ),
    "notes": (
        ("id", None, "ID", "int", None),
        ("content", None, "Content", "text", None),
        ("deal_id", None, "Deal", "deal", None),
        ("person_id", None, "Person", "people", None),
        ("org_id", None, "Organization", "org", None),
        ("lead_id", None, "Lead", "lead", None),
        ("user_id", None, "User", "user", None),
        ("add_time", None, "Add time", "date", None),
        ("update_time", None, "Update time", "date", None),
    ),
    "leads": (
        ("id", None, "ID", "varchar", None),
        ("title", None, "Title", "varchar", None),
        ("owner_id", None, "Owner", "user", None),
        ("person_id", None, "Person", "people", None),
        ("organization_id", None, "Organization", "org", None),
        ("value", None, "Value", "monetary", None),
        ("expected_close_date", None, "Expected close date", "date", None),
        ("label_ids", None, "Labels", "set", None),
        ("source_name", None, "Source", "varchar", None),
        ("visible_to", None, "Visible to", "visible_to", None),
        ("add_time", None, "Lead created", "date", None),
        ("update_time", None, "Update time", "date", None),
    ),
    # Projects exist in API v2 only (`projectFields`); listed last so that the ids of the others stay put.
    "projects": (
        ("id", None, "ID", "int", None),
        ("title", None, "Project name", "varchar", None),
        ("description", None, "Description", "text", None),
        ("status", None, "Status", "status", None),
        ("board_id", None, "Board", "projects_board", None),
        ("phase_id", None, "Phase", "projects_phase", None),
        ("owner_id", None, "Owner", "user", None),
        ("start_date", None, "Start date", "date", None),
        ("end_date", None, "End date", "date", None),
        ("deal_ids", None, "Deals", "deals", None),
        ("person_ids", None, "Contact persons", "people", None),
        ("org_ids", None, "Organization", "org", None),
        ("label_ids", None, "Labels", "set", None),
        ("health_status", None, "Health status", "int", None),
        ("add_time", None, "Project created", "date", None),
        ("update_time", None, "Update time", "date", None),
    ),
}

# Custom fields: (name, type, option labels or words, fill rate)
_CUSTOM: dict[str, tuple[tuple[str, str, tuple[str, ...], float], ...]] = {
    "deals": (
        ("Title", "varchar", ("Mr", "Ms", "Dr", "Prof"), 0.4),
        ("Value", "double", (), 0.5),
        ("Region", "enum", ("EMEA", "Americas", "APAC"), 0.8),
        ("Region", "varchar", ("Baltics", "Nordics", "DACH", "Benelux", "US West", "US East", "ANZ"), 0.6),
        (
            "Lead source detail",
            "varchar_auto",
            ("Webinar", "Trade fair", "Cold call", "Referral", "Ads"),
            0.7,
        ),
        ("Deal summary", "text", (), 0.5),
        ("Discount %", "double", (), 0.6),
        ("Contract value", "monetary", (), 0.7),
        ("Priority", "enum", ("Low", "Medium", "High"), 0.9),
        ("Product interests", "set", ("CRM", "Invoicing", "Projects", "Campaigns", "Scheduler"), 0.7),
        ("Renewal date", "date", (), 0.6),
        ("Contract period", "daterange", (), 0.5),
        ("Preferred call time", "time", (), 0.5),
        ("Support hours", "timerange", (), 0.4),
        ("Account manager", "user", (), 0.7),
        ("Partner organization", "org", (), 0.4),
        ("Technical contact", "people", (), 0.5),
        ("Hotline", "phone", (), 0.5),
        ("Delivery address", "address", (), 0.5),
    ),
    "persons": (
        ("Email", "varchar", (), 0.5),
        ("Preferred language", "enum", ("English", "German", "Estonian", "Spanish", "French"), 0.8),
        ("Interests", "set", ("Webinars", "Newsletter", "Events", "Beta programme"), 0.6),
        ("Lifetime value", "monetary", (), 0.5),
        ("Customer since", "date", (), 0.6),
        ("Availability", "timerange", (), 0.3),
        ("Home address", "address", (), 0.3),
        ("Assistant phone", "phone", (), 0.3),
        ("Referred by", "people", (), 0.2),
        ("NPS score", "double", (), 0.5),
        ("Bio", "text", (), 0.4),
        ("Twitter handle", "varchar_auto", (), 0.3),
    ),
    "organizations": (
        ("Address", "address", (), 0.5),
        ("Segment", "enum", ("SMB", "Mid-market", "Enterprise"), 0.9),
        ("Tech stack", "set", ("AWS", "Azure", "GCP", "SAP", "Salesforce", "Microsoft 365"), 0.6),
        ("Annual contract value", "monetary", (), 0.6),
        ("Founded", "date", (), 0.6),
        ("Fiscal year", "daterange", (), 0.4),
        ("Headquarters phone", "phone", (), 0.7),
        ("Key account manager", "user", (), 0.7),
        ("Parent company", "org", (), 0.2),
        ("Account notes", "text", (), 0.4),
        ("Credit score", "double", (), 0.5),
        ("Ticker", "varchar_auto", ("NWND", "ACME", "SMMT", "ZNTH", "PLRS"), 0.2),
    ),
    "products": (
        ("Category", "varchar", ("Core", "Add-on", "Service", "Bundle"), 0.8),
        ("Weight (kg)", "double", (), 0.5),
        ("Color", "enum", ("Black", "White", "Silver", "Blue"), 0.5),
        ("Compatible with", "set", ("Windows", "macOS", "Linux", "iOS", "Android"), 0.6),
        ("Launch date", "date", (), 0.8),
        ("Warranty period", "daterange", (), 0.4),
        ("SKU", "varchar_auto", (), 0.9),
        ("Datasheet notes", "text", (), 0.4),
        ("Cost price", "monetary", (), 0.7),
    ),
    "activities": (
        ("Meeting room", "varchar", ("Aurora", "Boreal", "Cedar", "Delta", "Online"), 0.4),
        ("Outcome", "enum", ("Positive", "Neutral", "Negative", "No show"), 0.6),
        ("Follow-up date", "date", (), 0.4),
    ),
    "projects": (
        ("Category", "enum", ("Internal", "External", "Research"), 0.8),
        ("Budget", "monetary", (), 0.6),
        ("Go-live date", "date", (), 0.5),
        ("Delivery team", "set", ("Onboarding", "Integrations", "Training", "Support"), 0.6),
        ("Customer success manager", "user", (), 0.7),
        ("Scope notes", "text", (), 0.4),
    ),
}

_OPTION_COLORS = ("green", "yellow", "red", "blue", "purple", "gray")

CHANNEL_OPTIONS = ("Email marketing", "Paid search", "Organic search", "Social media", "Events", "Referral")
INDUSTRY_OPTIONS = ("Software", "Manufacturing", "Retail", "Healthcare", "Logistics", "Financial services")
PRODUCT_CATEGORY_OPTIONS = ("Subscriptions", "Services", "Support", "Hardware", "Add-ons")


def custom_field_key(seed: int, entity: str, index: int, name: str) -> str:
    """A stable 40-hex key, different for each account seed (as field keys differ per Pipedrive company)."""
    return hashlib.sha1(f"{seed}:{entity}:{index}:{name}".encode()).hexdigest()


def _builtin_options(entity: str, code: str, next_id: int) -> tuple[Option, ...] | None:
    labels = {
        ("deals", "channel"): CHANNEL_OPTIONS,
        ("organizations", "industry"): INDUSTRY_OPTIONS,
        ("products", "category"): PRODUCT_CATEGORY_OPTIONS,
    }.get((entity, code))
    if labels is None:
        return None
    return tuple(Option(next_id + i, label) for i, label in enumerate(labels))


def build_field_defs(seed: int) -> dict[str, tuple[FieldDef, ...]]:
    """All field definitions of one account, per entity; leads inherit the custom fields of deals."""
    definitions: dict[str, tuple[FieldDef, ...]] = {}
    field_id = 1
    option_id = 1
    for entity, builtins in _BUILTIN.items():
        fields: list[FieldDef] = []
        for order, (code, v1_key, name, v2_type, v1_type) in enumerate(builtins):
            options = _builtin_options(entity, code, option_id)
            option_id += len(options or ())
            fields.append(
                FieldDef(
                    key=code,
                    name=name,
                    field_type=v2_type,
                    v1_key=v1_key,
                    v1_type=v1_type,
                    options=options,
                    mandatory=code in ("title", "name", "subject", "content"),
                    order_nr=order,
                    id=field_id,
                    subfields=_subfields(code, name, v2_type),
                )
            )
            field_id += 1
        for index, (name, field_type, words, fill_rate) in enumerate(_CUSTOM.get(entity, ())):
            key = custom_field_key(seed, entity, index, name)
            options = None
            if field_type in ("enum", "set"):
                options = tuple(
                    Option(option_id + i, label, _OPTION_COLORS[i % len(_OPTION_COLORS)])
                    for i, label in enumerate(words)
                )
                option_id += len(words)
            fields.append(
                FieldDef(
                    key=key,
                    name=name,
                    field_type=field_type,
                    is_custom=True,
                    options=options,
                    words=() if options else words,
                    fill_rate=fill_rate,
                    order_nr=len(builtins) + index,
                    id=field_id,
                    subfields=_subfields(key, name, field_type),
                )
            )
            field_id += 1
        definitions[entity] = tuple(fields)
    definitions["leads"] = definitions["leads"] + tuple(f for f in definitions["deals"] if f.is_custom)
    return definitions


def custom_fields_of(definitions: dict[str, tuple[FieldDef, ...]], entity: str) -> tuple[FieldDef, ...]:
    return tuple(f for f in definitions.get(entity, ()) if f.is_custom)
