"""A realistic demo practice, so the app, review screens and reports have something to show.

Six clients seen individually across the populations a music therapist serves and a group of three
children who meet as one session (each tap names the child), months of weekly sessions whose data improve
with noise (as real data do), interventions from the shipped library, and SOAP notes for past sessions.
Seeded: the same seed and the same `today` give the same practice.

Clinically coherent, as a supervisor would check it: every plan suits its client's age, population and
format (individual or group, `ClientSpec.fits`); sessions carry only codes a music therapist bills under
(no ABA-technician or psychotherapy codes), with a diagnosis for every billed client; a left-MCA stroke
weakens the right side; pseudonyms are unique and not made from the client's name or initials.
"""
