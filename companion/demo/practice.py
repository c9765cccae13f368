"""The demo practice as data: its clients, the group, their objectives and how each progresses, the
signing therapist, and the phrases notes are drafted from (`generate` turns them into a record)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from companion.record import (
    MasteryCriterion,
)

DataShape = Literal["trials", "count", "cadence", "rating", "duration", "sync", "measure", "sample"]


@dataclass(frozen=True)
class ObjectiveSpec:
    """One objective and how its data evolve: `start` -> `end` level over the months, `plan` used for it."""

    domain: str
    goal: str
    description: str
    criterion: MasteryCriterion
    measure: DataShape
    plan: str
    start: float
    end: float
    label: str = ""
    unit: str = ""
    prompt_levels: tuple[str, ...] = ()
    """The objective's own hierarchy (its plan's, e.g. DSLM's cues), else the client's standard one."""


@dataclass(frozen=True)
class ClientSpec:
    name: str
    pseudonym: str
    age: int
    population: str
    music: str
    setting: str
    weeks: int
    objectives: tuple[ObjectiveSpec, ...]
    opening_plan: str | None = None
    cpt: tuple[str, ...] = ()
    quotes: tuple[str, ...] = field(default=())
    diagnoses: tuple[str, ...] = ()
    fits: tuple[str, ...] = ()
    """The library's population terms this client belongs to: every plan they work on serves one of them
    (`Plan.serves_population`) and suits their age (tests/test_record_demo.py)."""


DEMO_THERAPIST = ("Jordan Rivera", "MT-BC, NMT", "1234567893")
"""Who signs the demo's notes (an NPI with a valid check digit, the CMS documentation's example)."""

# Billing (companion/record/billing.py): a music therapist bills the service given, never an ABA
# technician's codes (97151-97158) nor psychotherapy (908xx), which need another licence. In-home autism
# work and coping-skills work are skills training (H2014, HQ in a group); stroke rehab under the physical
# therapy plan of care is neuromuscular re-education (97112-GP). Clients with no code are private pay,
# facility-contracted or seen under a school IEP.

CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec(
        name="Leo",
        pseudonym="Client A",
        age=7,
        population="autism spectrum, age 7",
        diagnoses=("F84.0",),
        music="Daniel Tiger songs, Raffi, loud drums",
        setting="in-home",
        weeks=26,
        opening_plan="hello-song-greeting",
        cpt=("H2014",),
        fits=("children with autism",),
        quotes=("more drum please", "my turn!", "big drum, loud"),
        objectives=(
            ObjectiveSpec(
                "communication",
                "Increase functional verbal requests",
                "Requests a preferred instrument with a 2-word phrase",
                MasteryCriterion("percent_independent", 80, 3),
                "trials",
                "choice-making-instruments",
                0.2,
                0.85,
            ),
            ObjectiveSpec(
                "communication",
                "Increase functional verbal requests",
                "Fills in the missing word of a familiar song",
                MasteryCriterion("percent_independent", 80, 3),
                "trials",
                "dslm-fill-in-songs",
                0.35,
                0.9,
                prompt_levels=("independent", "first sound", "sign or picture", "full model"),
            ),
            ObjectiveSpec(
                "social",
                "Engage in reciprocal play",
                "Takes turns on the drum with the therapist (initiations per session)",
                MasteryCriterion("count", 6, 3),
                "count",
                "sycom-turn-taking-drum",
                1.5,
                7.5,
                label="turn initiation",
            ),
            ObjectiveSpec(
                "cognition/academic",
                "Sustain attention to a shared task",
                "Plays with the drum pattern for 3 minutes without leaving the activity",
                MasteryCriterion("duration_seconds", 180, 3),
                "duration",
                "mact-attention-drumming",
                50,
                200,
                label="on task",
            ),
        ),
    ),
    ClientSpec(
        name="Mr. G",
        pseudonym="Client B",
        age=67,
        population="left MCA stroke with right hemiparesis, gait and fine-motor rehab",
        music="Motown, Sam Cooke, big band",
        setting="outpatient rehab clinic",
        weeks=16,
        cpt=("97112-GP",),
        diagnoses=("I69.351",),  # hemiparesis after cerebral infarction, right dominant side
        fits=("stroke",),
        quotes=("the beat makes it easier", "my right foot keeps up now"),
        objectives=(
            ObjectiveSpec(
                "gross motor",
                "Improve gait speed and symmetry",
                "Walks 10 m at >= 100 steps/min with RAS",
                MasteryCriterion("cadence_spm", 100, 3),
                "cadence",
                "ras-gait-training",
                78,
                104,
            ),
            ObjectiveSpec(
                "gross motor",
                "Improve gait speed and symmetry",
                "Walks 10 m in 12 s or less",
                MasteryCriterion("measure_last", 12, 3, "at_most"),
                "measure",
                "ras-gait-training",
                21,
                11,
                label="10 m walk time",
                unit="s",
            ),
            ObjectiveSpec(
                "gross motor",
                "Improve gait speed and symmetry",
                "Sit-to-stand independently with PSE cue",
                MasteryCriterion("percent_independent", 80, 3),
                "trials",
                "pse-sit-to-stand",
                0.25,
                0.85,
            ),
            ObjectiveSpec(
                "gross motor",
                "Improve reach and trunk control",
                "Reaches across midline with the right arm to strike the drum on the beat",
                MasteryCriterion("percent_independent", 80, 3),
                "trials",
                "timp-drum-reach",
                0.3,
                0.9,
            ),
            ObjectiveSpec(
                "fine motor",
                "Improve fine-motor control of the right hand",
                "Plays single notes with right-hand fingers 2-5 in time (>= 70% hits within window)",
                MasteryCriterion("sync_pct_within", 70, 3),
                "sync",
                "keyboard-finger-isolation",
                35,
                78,
            ),
        ),
    ),
    ClientSpec(
        name="Rose",
        pseudonym="Client C",
        age=84,
        population="memory care resident, moderate Alzheimer's dementia",
        diagnoses=("G30.1", "F02.B0"),
        fits=("dementia",),
        music="Glenn Miller, hymns, Frank Sinatra",
        setting="memory care unit, individual sessions in her room",
        weeks=20,
        opening_plan="msot-orientation-song",
        quotes=("we danced to this at the Palladium", "my husband sang this one"),
        objectives=(
            ObjectiveSpec(
                "memory",
                "Maintain long-term recall",
                "Completes the lyric phrase of a familiar song",
                MasteryCriterion("percent_correct", 75, 3),
                "trials",
                "song-recall-reminiscence",
                0.45,
                0.8,
            ),
            ObjectiveSpec(
                "social",
                "Maintain verbal engagement",
                "Shares a memory or comment prompted by a familiar song (per session)",
                MasteryCriterion("count", 5, 3),
                "count",
                "ammt-mood-memory",
                1.5,
                5.5,
                label="memory shared",
            ),
        ),
    ),
    ClientSpec(
        name="Jay",
        pseudonym="Client E",
        age=15,
        population="adolescent, generalised anxiety",
        diagnoses=("F41.1",),
        fits=("adolescents", "anxiety"),
        music="Billie Eilish, lo-fi, Twenty One Pilots",
        setting="school counselling office",
        weeks=18,
        cpt=("H2014",),
        quotes=("the song says what I couldn't", "breathing with the guitar helped"),
        objectives=(
            ObjectiveSpec(
                "anxiety",
                "Use coping strategies for anxiety",
                "Reports anxiety down >= 2 points after a relaxation intervention",
                MasteryCriterion("rating_change", -2, 3, "at_most"),
                "rating",
                "iso-principle-relaxation",
                -0.5,
                -3.0,
                label="anxiety",
            ),
            ObjectiveSpec(
                "anxiety",
                "Use coping strategies for anxiety",
                "Names coping strategies during lyric analysis",
                MasteryCriterion("count", 3, 3),
                "count",
                "lyric-analysis-coping",
                0.5,
                3.5,
                label="coping strategy named",
            ),
        ),
    ),
    ClientSpec(
        name="Dana",
        pseudonym="Client F",
        age=46,
        population="chronic low-back pain",
        diagnoses=("G89.29", "M54.50"),
        fits=("chronic pain",),
        music="Norah Jones, ambient, acoustic folk",
        setting="outpatient pain clinic",
        weeks=14,
        quotes=("I forgot about the pain for a while",),
        objectives=(
            ObjectiveSpec(
                "pain",
                "Reduce perceived pain",
                "Pain rating after session <= 4/10",
                MasteryCriterion("rating_after", 4, 3, "at_most"),
                "rating",
                "iso-principle-relaxation",
                6.5,
                3.5,
                label="pain",
            ),
            ObjectiveSpec(
                "pain",
                "Self-manage pain with relaxation skills",
                "Sustains music-paced breathing (in 4 beats, out 6) for 4 minutes",
                MasteryCriterion("duration_seconds", 240, 3),
                "duration",
                "progressive-muscle-relaxation",
                90,
                260,
                label="paced breathing",
            ),
        ),
    ),
    ClientSpec(
        name="Owen",
        pseudonym="Client H",
        age=9,
        population="ADHD, combined presentation, age 9",
        diagnoses=("F90.2",),
        fits=("ADHD",),
        music="Kidz Bop, Encanto soundtrack",
        setting="elementary school music room (IEP related service)",
        weeks=22,
        quotes=("can we do the fast-slow drums again?",),
        objectives=(
            ObjectiveSpec(
                "emotional/regulation",
                "Regulate energy to the task",
                "Follows the therapist's tempo from fast to slow on the drum (>= 75% hits within window)",
                MasteryCriterion("sync_pct_within", 75, 3),
                "sync",
                "drumming-down-regulation",
                40,
                80,
            ),
            ObjectiveSpec(
                "behavioural",
                "Improve impulse control",
                "Freezes within 2 seconds when the music stops",
                MasteryCriterion("percent_independent", 70, 3),
                "trials",
                "freeze-dance-impulse-control",
                0.3,
                0.75,
            ),
        ),
    ),
)


@dataclass(frozen=True)
class GroupSpec:
    """A group that meets as one session: each member is a client of their own with their own objectives,
    worked in the same order (objective i of every member uses the same plan), so each tap names a client."""

    setting: str
    weeks: int
    opening_plan: str
    members: tuple[ClientSpec, ...]


def _turn_taking(start: float, end: float) -> tuple[ObjectiveSpec, ...]:
    """The objectives every member of the demo group works on, from their own starting point."""
    return (
        ObjectiveSpec(
            "social",
            "Take turns with peers",
            "Waits for the drum cue and plays on their turn",
            MasteryCriterion("percent_independent", 80, 3),
            "trials",
            "sycom-turn-taking-drum",
            start,
            end,
        ),
        ObjectiveSpec(
            "communication",
            "Start interactions with peers",
            "Initiates an interaction with a peer (names, passes, invites)",
            MasteryCriterion("count", 4, 3),
            "count",
            "drum-circle-group-cohesion",
            start * 4,
            end * 6,
            label="peer initiation",
        ),
        ObjectiveSpec(
            "behavioural",
            "Stay with the group activity",
            "On task at the moment of each 30 s sample (momentary time sampling)",
            MasteryCriterion("interval_pct", 80, 3),
            "sample",
            "drum-circle-group-cohesion",
            start + 0.15,
            min(0.95, end + 0.1),
            label="on task",
        ),
    )


GROUPS: tuple[GroupSpec, ...] = (
    GroupSpec(
        setting="community music school, Thursday group",
        weeks=16,
        opening_plan="hello-song-greeting",
        members=tuple(
            ClientSpec(
                name=name,
                pseudonym=pseudonym,
                age=age,
                population=population,
                music=music,
                setting="community music school, Thursday group",
                weeks=16,
                objectives=_turn_taking(start, end),
                cpt=("H2014-HQ",),
                diagnoses=(diagnosis,),
                fits=(*fits, "school groups"),
            )
            for name, pseudonym, age, population, diagnosis, fits, music, start, end in (
                (
                    "Maya",
                    "Client K",
                    10,
                    "autism spectrum, age 10",
                    "F84.0",
                    ("children with autism",),
                    "Taylor Swift, Moana",
                    0.35,
                    0.85,
                ),
                (
                    "Jonah",
                    "Client N",
                    11,
                    "ADHD, age 11",
                    "F90.9",
                    ("ADHD", "children with developmental disabilities"),  # as the CDC counts ADHD
                    "Minecraft music, drums",
                    0.2,
                    0.7,
                ),
                (
                    "Priya",
                    "Client T",
                    9,
                    "Down syndrome, age 9",
                    "Q90.9",
                    ("children with Down syndrome", "children with developmental disabilities"),
                    "Frozen, ukulele songs",
                    0.4,
                    0.9,
                ),
            )
        ),
    ),
)

SUBJECTIVE = (
    "Arrived calm; a good week reported.",
    "Arrived tired after a busy day; warmed up with the first song.",
    "Reported feeling well; asked for a preferred song.",
    "More spontaneous singing at home reported since the last session.",
    "Arrived a little anxious; settled with the familiar routine.",
)
"""Worded for any client, child or adult, with or without a carer (each note draws one)."""
HOME_REPORTS = (
    ("practised", "sang along to the session songs most evenings"),
    ("practised", "played along to the practice recording three times"),
    ("partly", "used the practice recording twice; a busy week"),
    ("not practised", "away over the weekend"),
    ("", ""),
)
"""(home practice, what the client or carers said) as a note records it; ("", "") when it was not asked."""
PLANS = (
    "Continue current interventions; fade prompts as independence increases.",
    "Raise the challenge one step next session (tempo, length or cue) if performance stays stable.",
    "Add a home practice recording of the preferred song.",
    "Keep the structure; offer one new choice of instrument or song.",
)
