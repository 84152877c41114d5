"""A benchmark of narration sentences against the subtitle lines they cite, written by hand from invented dialogue.

Each scene is a few subtitle cues (invented; no real show), and each case a narration sentence citing all of the
scene's cues, labelled true (the lines state it) or false, with the kind of truth or error. False cases cover the
errors a recap must never ship: flipped negation, a swapped or invented agent, changed numbers, days, months, times,
ordinals, years and places, invented motives and relationships, antonyms, and tense/modality ("plans to" is not
"does"); true cases are paraphrases a narrator would write.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    scene: str
    sentence: str
    true: bool
    kind: str


SCENES: dict[str, list[str]] = {
    "museum": [
        "BERNARD: The museum closes early on Friday.",
        "Someone is planning to rob it on Friday.",
    ],
    "cup": [
        "HELEN: I'm taking the cup to Newcastle tomorrow.",
        "MARC: Then I will drive you to the station at dawn.",
    ],
    "harbour": [
        "MARTA: I work for the harbour master.",
        "JONAS: You never told me that.",
    ],
    "refusal": [
        "MARTA: I will not go back to Lisbon.",
        "JONAS: Someone will rob the bank.",
    ],
    "ledger": [
        "Mara, the ledger is gone from the vault.",
        "Only Tobias and the old caretaker knew the combination.",
        "TOBIAS: I hid the ledger in the chapel.",
    ],
    "guards": [
        "ELSA: Four guards watch the gate at night.",
        "ELSA: They change shifts at midnight.",
    ],
    "wedding": [
        "PRIYA: My sister Anna is getting married in June.",
        "PRIYA: The wedding is in Porto.",
    ],
    "letter": [
        "DOMINIC: I burned the letter on Tuesday.",
        "DOMINIC: Nobody else read it.",
    ],
    "train": [
        "The last train leaves at 11:40.",
        "GRETA: I missed it twice last week.",
    ],
    "debt": [
        "SAUL: Victor owes me three thousand pounds.",
        "SAUL: He promised to pay me in March.",
    ],
    "door": [
        "NADIA: The cellar door is locked.",
        "NADIA: I lost the key yesterday.",
    ],
    "race": [
        "COACH: Leila won the race in the rain.",
        "COACH: She finished first, ahead of eleven runners.",
    ],
    "father": [
        "OWEN: My father built this boat in 1974.",
        "OWEN: He sailed it to Ireland alone.",
    ],
    "doctor": [
        "DR. SHAH: Ruth is awake now.",
        "DR. SHAH: She may leave the hospital on Monday.",
    ],
    "alibi": [
        "INSPECTOR BRAY: Where were you on Saturday night?",
        "KELLAN: I was at the cinema with my brother.",
    ],
    "shop": [
        "ROSA: I sold the bakery to Mr. Finch.",
        "ROSA: He pays me every month.",
    ],
    "storm": [
        "The storm will reach the island by evening.",
        "CAPTAIN IDRIS: We leave the harbour at noon.",
    ],
    "phone": [
        "LENA: Pavel called me at six.",
        "LENA: He was scared.",
    ],
    "garden": [
        "AGNES: I planted the roses in April.",
        "AGNES: They died in the frost.",
    ],
    "election": [
        "MAYOR QUINN: I lost the election by nine votes.",
        "MAYOR QUINN: I will not stand again.",
    ],
    "twins": [
        "HUGO: Felix is my younger brother.",
        "HUGO: He lives in Marseille.",
    ],
    "fire": [
        "The fire started in the kitchen.",
        "FIREFIGHTER: Nobody was hurt.",
    ],
    "exam": [
        "TEACHER: Sami passed the exam.",
        "TEACHER: He was the second best in the class.",
    ],
    "dog": [
        "IVY: The dog found the body near the river.",
        "IVY: I called the police at seven.",
    ],
    "hostage": [
        "KANE: Give me the money and nobody gets hurt.",
        "ADA: We will pay you tomorrow.",
    ],
    "promise": [
        "NOOR: I promise I will come back for you.",
        "NOOR: Wait for me at the bridge.",
    ],
    "bank": [
        "FRANK: We might lose the farm.",
        "FRANK: The bank wants its money by winter.",
    ],
    "spy": [
        "ESME: Lukas is a spy.",
        "LUKAS: I am not a spy.",
    ],
    "trial": [
        "JUDGE: The jury found Mr. Hale guilty.",
        "JUDGE: He will serve five years.",
    ],
    "question": [
        "Did Clara open the safe?",
        "CLARA: I have never seen that safe.",
    ],
    "market": [
        "TOMAS: I buy fish at the market every morning.",
        "TOMAS: The market is closed on Sunday.",
    ],
    "orders": [
        "SERGEANT: Private Kim, guard the north gate.",
        "KIM: Yes, sergeant.",
    ],
    # Scenes below were written after the verifier was tuned on the ones above, as a held-out check.
    "shooting": [
        "KANE: I shot Bruno in the leg.",
        "LOU: Bruno is my friend.",
    ],
    "gift": [
        "HELEN: Marc gave me this ring.",
        "HELEN: He bought it in Rome.",
    ],
    "keys": [
        "OTTO: Tilda, take the keys.",
        "TILDA: I will lock the shop at nine.",
    ],
    "farewell": [
        "IRIS: I'm leaving Dublin on the first of May.",
        "IRIS: My mother doesn't know yet.",
    ],
    "ransom": [
        "The kidnappers want two million euros.",
        "ANTON: We can pay half by Thursday.",
    ],
    "chess": [
        "MILA: Yuri beat me three times in a row.",
        "MILA: I have never beaten him.",
    ],
    # Second held-out round: it found four false sentences verified (a speaker swapped inside a two-speaker cue,
    # a negation and two for/against swaps, all where a verb ends its clause), fixed in the verifier before adding.
    "boat": [
        "- Sven: The boat sank near the lighthouse. - Maja: Was anyone on board?",
        "SVEN: Two fishermen. Both drowned.",
    ],
    "painting": [
        "The painting was stolen from the gallery last night.",
        "CURATOR: The alarm did not ring.",
    ],
    "vote": [
        "NINA: I voted for Carver.",
        "NINA: My husband voted against him.",
    ],
    "meeting": [
        "BEN: We meet at the old mill after dark.",
        "BEN: Bring Sofia, but not her brother.",
    ],
    # Third held-out round: one false sentence verified (a swapped thing as the object), fixed before adding.
    "inherit": [
        "LAWYER: Your aunt left the house to Maria.",
        "LAWYER: The farm goes to her cousins.",
    ],
    "flight": [
        "GATE AGENT: Flight 212 to Oslo is delayed by two hours.",
        "PETRA: Then I'll miss my meeting.",
    ],
    "till": [
        "I saw Rafael take the money from the till.",
        "MIRA: He put it back an hour later.",
    ],
    "fight": [
        "ZOE: Leon hit Caleb first.",
        "ZOE: Caleb didn't fight back.",
    ],
    "recipe": [
        "GRAN: Add three eggs, never four.",
        "GRAN: Bake it for forty minutes.",
    ],
    # Fourth held-out round: one false sentence verified (lines that disagree, one of them only a belief), fixed
    # before adding; a speaker named June and a passive "were told" were fixed too.
    "school": [
        "HEADMISTRESS: Theo has been expelled.",
        "HEADMISTRESS: His parents were told on Wednesday.",
    ],
    "cabin": [
        "RUTH: The man who rented the cabin paid in cash.",
        "RUTH: He left after two nights.",
    ],
    "navy": [
        "GRANDPA: I was seventeen when I joined the navy.",
        "GRANDPA: I served for twenty years.",
    ],
    "diary": [
        "- Where's the diary? - Eli burned it.",
        "JUNE: Eli would never burn it.",
    ],
    "band": [
        "MANAGER: The band cancelled the tour.",
        "MANAGER: Only the drummer wanted to keep playing.",
    ],
    "crash": [
        "DETECTIVE: Laura called her sister before the crash.",
        "DETECTIVE: She did not call the police.",
    ],
    # Fifth held-out round: one false sentence verified ("answered" read only as speech, not as an act the line
    # negates), fixed before adding; a second (a day carried by another line than the action) found by a variant.
    "mine": [
        "FOREMAN: Six miners are trapped below the second shaft.",
        "FOREMAN: The rescue team arrives at dawn.",
    ],
    "cairo": [
        "ANNA: Paul wrote to me every week from Cairo.",
        "ANNA: I never answered.",
    ],
    "bakery": [
        "CHEF: We open at seven on weekdays.",
        "CHEF: On Sundays we stay closed.",
    ],
    "contract": [
        "- Did you sign the contract? - HARLAN: No, my partner signed it.",
        "HARLAN: I was in Madrid that week.",
    ],
    "wolves": [
        "RANGER: The wolves returned to the valley last winter.",
        "RANGER: Hunters killed two of them.",
    ],
}

CASES: list[Case] = [
    # museum: nobody named plans a robbery
    Case("museum", "Bernard robs the museum on Friday.", False, "invented agent and modality"),
    Case("museum", "Someone plans to rob the museum on Friday.", True, "paraphrase"),
    Case("museum", "Someone robs the museum on Friday.", False, "modality: plans to, not does"),
    Case("museum", "Someone plans to rob the museum on Thursday.", False, "changed weekday"),
    Case("museum", "The museum closes early on Friday.", True, "paraphrase"),
    Case("museum", "The museum opens early on Friday.", False, "antonym"),
    Case("museum", "Bernard says the museum closes early on Friday.", True, "speech report"),
    Case("museum", "Bernard plans to rob the museum.", False, "invented agent"),
    # cup: Helen takes the cup
    Case("cup", "Helen never takes the cup to Newcastle.", False, "negation"),
    Case("cup", "Helen takes the cup to Newcastle.", True, "paraphrase"),
    Case("cup", "Helen takes the cup to Leeds.", False, "changed place"),
    Case("cup", "Marc takes the cup to Newcastle.", False, "swapped agent"),
    Case("cup", "Marc will drive Helen to the station at dawn.", True, "paraphrase"),
    Case("cup", "Marc will drive Helen to the station at dusk.", False, "antonym: dawn/dusk"),
    Case("cup", "Marc drives Helen to the station because he loves her.", False, "invented motive"),
    Case("cup", "Helen is Marc's wife.", False, "invented relationship"),
    # harbour: Marta works for the harbour master
    Case("harbour", "Marta is secretly a spy working for the harbour master.", False, "invented motive"),
    Case("harbour", "Marta works for the harbour master.", True, "paraphrase"),
    Case("harbour", "Jonas works for the harbour master.", False, "swapped agent"),
    Case("harbour", "Marta never works for the harbour master.", False, "negation"),
    Case("harbour", "Marta says she works for the harbour master.", True, "speech report"),
    Case("harbour", "Jonas says he works for the harbour master.", False, "speaker swapped"),
    # refusal: Marta will not go back; Jonas says someone will rob the bank
    Case("refusal", "Marta will not go back to Lisbon.", True, "negation kept"),
    Case("refusal", "Marta refuses to go back to Lisbon.", True, "paraphrase of a refusal"),
    Case("refusal", "Marta goes back to Lisbon.", False, "negation"),
    Case("refusal", "Marta will not go back to Madrid.", False, "changed place"),
    Case("refusal", "Jonas robs the bank.", False, "speaker is not the agent"),
    Case("refusal", "Jonas says someone will rob the bank.", True, "speech report"),
    Case("refusal", "Jonas will rob the bank.", False, "speaker is not the agent"),
    Case("refusal", "Marta says someone will rob the bank.", False, "speaker swapped"),
    # ledger
    Case("ledger", "Mara learns the ledger is gone from the vault.", True, "paraphrase"),
    Case("ledger", "Tobias hid the ledger in the chapel.", True, "speaker is the agent"),
    Case("ledger", "Tobias hid the ledger in the crypt.", False, "changed place"),
    Case("ledger", "Mara hid the ledger in the chapel.", False, "swapped agent"),
    Case("ledger", "Tobias burned the ledger in the chapel.", False, "changed action"),
    Case("ledger", "Only Tobias knew the combination.", False, "dropped a person (quantity)"),
    Case("ledger", "Tobias hid the ledger in the chapel to protect Mara.", False, "invented motive"),
    Case("ledger", "The ledger is gone from the vault.", True, "paraphrase"),
    # guards
    Case("guards", "Four guards watch the gate at night.", True, "paraphrase"),
    Case("guards", "Three guards watch the gate at night.", False, "changed number"),
    Case("guards", "Four guards watch the gate in the morning.", False, "changed time of day"),
    Case("guards", "The guards change shifts at midnight.", True, "paraphrase"),
    Case("guards", "The guards change shifts at noon.", False, "changed time of day"),
    Case("guards", "Elsa says four guards watch the gate at night.", True, "speech report"),
    Case("guards", "Elsa bribes the guards.", False, "invented action"),
    # wedding
    Case("wedding", "Priya's sister Anna is getting married in June.", True, "paraphrase"),
    Case("wedding", "Anna is getting married in July.", False, "changed month"),
    Case("wedding", "Priya is getting married in June.", False, "swapped agent"),
    Case("wedding", "The wedding is in Porto.", True, "paraphrase"),
    Case("wedding", "The wedding is in Lisbon.", False, "changed place"),
    Case("wedding", "Anna is Priya's cousin.", False, "changed relationship"),
    Case("wedding", "Anna is getting divorced in June.", False, "antonym"),
    # letter
    Case("letter", "Dominic burned the letter on Tuesday.", True, "speaker is the agent"),
    Case("letter", "Dominic burned the letter on Wednesday.", False, "changed weekday"),
    Case("letter", "Dominic read the letter to his wife.", False, "invented relationship"),
    Case("letter", "Dominic says nobody else read the letter.", True, "speech report"),
    Case("letter", "Everyone read the letter.", False, "negation"),
    Case("letter", "Dominic kept the letter.", False, "invented action"),
    # train
    Case("train", "The last train leaves at 11:40.", True, "paraphrase"),
    Case("train", "The last train leaves at 11:45.", False, "changed time"),
    Case("train", "The first train leaves at 11:40.", False, "antonym: first/last"),
    Case("train", "Greta missed the train twice last week.", True, "paraphrase"),
    Case("train", "Greta missed the train three times last week.", False, "changed number"),
    Case("train", "Greta never misses the train.", False, "negation"),
    # debt
    Case("debt", "Victor owes Saul three thousand pounds.", True, "paraphrase"),
    Case("debt", "Victor owes Saul four thousand pounds.", False, "changed number"),
    Case("debt", "Saul owes Victor three thousand pounds.", False, "swapped agent"),
    Case("debt", "Victor promised to pay Saul in March.", True, "paraphrase"),
    Case("debt", "Victor paid Saul in March.", False, "modality: promised, not did"),
    Case("debt", "Victor promised to pay Saul in May.", False, "changed month"),
    Case("debt", "Victor owes Saul money because he lost at cards.", False, "invented motive"),
    # door
    Case("door", "The cellar door is locked.", True, "paraphrase"),
    Case("door", "The cellar door is unlocked.", False, "antonym"),
    Case("door", "Nadia lost the key yesterday.", True, "speaker is the agent"),
    Case("door", "Nadia found the key yesterday.", False, "antonym"),
    Case("door", "Nadia lost the key on Monday.", False, "changed day"),
    Case("door", "Nadia locked the cellar door.", False, "invented agent"),
    # race
    Case("race", "Leila won the race in the rain.", True, "paraphrase"),
    Case("race", "Leila lost the race in the rain.", False, "antonym: win/lose"),
    Case("race", "Leila finished first, ahead of eleven runners.", True, "paraphrase"),
    Case("race", "Leila finished second.", False, "changed ordinal"),
    Case("race", "Leila finished first, ahead of twelve runners.", False, "changed number"),
    Case("race", "The coach says Leila won the race.", True, "speech report"),
    # father
    Case("father", "Owen's father built the boat in 1974.", True, "paraphrase"),
    Case("father", "Owen's father built the boat in 1947.", False, "changed year"),
    Case("father", "Owen built the boat in 1974.", False, "swapped agent"),
    Case("father", "Owen's uncle built the boat in 1974.", False, "changed relationship"),
    Case("father", "Owen's father sailed the boat to Ireland alone.", True, "paraphrase"),
    Case("father", "Owen's father sailed the boat to Iceland alone.", False, "changed place"),
    # doctor
    Case("doctor", "Ruth is awake now.", True, "paraphrase"),
    Case("doctor", "Ruth may leave the hospital on Monday.", True, "modality kept"),
    Case("doctor", "Ruth leaves the hospital on Monday.", False, "modality: may, not does"),
    Case("doctor", "Ruth may leave the hospital on Friday.", False, "changed weekday"),
    Case("doctor", "Ruth is asleep.", False, "antonym"),
    Case("doctor", "Dr. Shah says Ruth is awake.", True, "speech report"),
    # alibi
    Case("alibi", "Kellan was at the cinema with his brother.", True, "speaker is the agent"),
    Case("alibi", "Kellan was at the cinema with his sister.", False, "changed relationship"),
    Case("alibi", "Kellan was at the theatre with his brother.", False, "changed place"),
    Case("alibi", "Kellan says he was at the cinema with his brother.", True, "speech report"),
    Case("alibi", "Inspector Bray was at the cinema.", False, "swapped agent"),
    Case("alibi", "Kellan was at the cinema on Friday night.", False, "changed weekday"),
    # shop
    Case("shop", "Rosa sold the bakery to Mr. Finch.", True, "speaker is the agent"),
    Case("shop", "Rosa bought the bakery from Mr. Finch.", False, "antonym: buy/sell"),
    Case("shop", "Mr. Finch sold the bakery to Rosa.", False, "swapped agent"),
    Case("shop", "Finch pays Rosa every month.", True, "paraphrase"),
    Case("shop", "Finch pays Rosa every week.", False, "changed period"),
    Case("shop", "Rosa sold the bakery because she was ill.", False, "invented motive"),
    # storm
    Case("storm", "The storm will reach the island by evening.", True, "modality kept"),
    Case("storm", "The storm reaches the island by morning.", False, "changed time of day"),
    Case("storm", "Captain Idris says they leave the harbour at noon.", True, "speech report"),
    Case("storm", "Captain Idris leaves the harbour at midnight.", False, "changed time of day"),
    Case("storm", "The storm will not reach the island.", False, "negation"),
    # phone
    Case("phone", "Pavel called Lena at six.", True, "paraphrase"),
    Case("phone", "Pavel called Lena at seven.", False, "changed time"),
    Case("phone", "Lena called Pavel at six.", False, "swapped agent"),
    Case("phone", "Lena says Pavel was scared.", True, "speech report"),
    Case("phone", "Pavel was angry.", False, "changed state"),
    Case("phone", "Pavel was not scared.", False, "negation"),
    # garden
    Case("garden", "Agnes planted the roses in April.", True, "speaker is the agent"),
    Case("garden", "Agnes planted the roses in August.", False, "changed month"),
    Case("garden", "The roses died in the frost.", True, "paraphrase"),
    Case("garden", "The roses survived the frost.", False, "invented outcome"),
    Case("garden", "Agnes planted the tulips in April.", False, "changed object"),
    # election
    Case("election", "Mayor Quinn lost the election by nine votes.", True, "speaker is the agent"),
    Case("election", "Mayor Quinn won the election by nine votes.", False, "antonym: win/lose"),
    Case("election", "Mayor Quinn lost the election by ninety votes.", False, "changed number"),
    Case("election", "Quinn will not stand again.", True, "negation kept"),
    Case("election", "Quinn will stand again.", False, "negation"),
    Case("election", "Quinn lost the election because of a scandal.", False, "invented motive"),
    # twins
    Case("twins", "Felix is Hugo's younger brother.", True, "paraphrase"),
    Case("twins", "Felix is Hugo's older brother.", False, "antonym: younger/older"),
    Case("twins", "Felix is Hugo's younger cousin.", False, "changed relationship"),
    Case("twins", "Felix lives in Marseille.", True, "paraphrase"),
    Case("twins", "Felix lives in Lyon.", False, "changed place"),
    Case("twins", "Hugo lives in Marseille.", False, "swapped agent"),
    # fire
    Case("fire", "The fire started in the kitchen.", True, "paraphrase"),
    Case("fire", "The fire started in the garage.", False, "changed place"),
    Case("fire", "Nobody was hurt in the fire.", True, "negation kept"),
    Case("fire", "Two people were hurt in the fire.", False, "changed number and negation"),
    Case("fire", "Someone started the fire in the kitchen.", False, "invented agent"),
    # exam
    Case("exam", "Sami passed the exam.", True, "paraphrase"),
    Case("exam", "Sami failed the exam.", False, "antonym: pass/fail"),
    Case("exam", "Sami was the second best in the class.", True, "paraphrase"),
    Case("exam", "Sami was the third best in the class.", False, "changed ordinal"),
    Case("exam", "Sami cheated on the exam.", False, "invented action"),
    # dog
    Case("dog", "The dog found the body near the river.", True, "paraphrase"),
    Case("dog", "Ivy found the body near the river.", False, "swapped agent"),
    Case("dog", "Ivy called the police at seven.", True, "speaker is the agent"),
    Case("dog", "Ivy called the police at eight.", False, "changed time"),
    Case("dog", "The dog found the body near the lake.", False, "changed place"),
    Case("dog", "Ivy did not call the police.", False, "negation"),
    # hostage
    Case("hostage", "Kane demands the money.", False, "paraphrase the lines do not carry (demand)"),
    Case("hostage", "Ada says they will pay Kane tomorrow.", True, "speech report"),
    Case("hostage", "Ada pays Kane.", False, "modality: will pay, not pays"),
    Case("hostage", "Ada will pay Kane on Friday.", False, "changed day"),
    Case("hostage", "Kane says nobody gets hurt.", False, "condition dropped (modality)"),
    # promise
    Case("promise", "Noor promises to come back.", True, "speech report"),
    Case("promise", "Noor comes back.", False, "modality: promises, not does"),
    Case("promise", "Noor will not come back.", False, "negation"),
    Case("promise", "Noor waits at the bridge.", False, "imperative is not an action"),
    # bank
    Case("bank", "Frank might lose the farm.", True, "modality kept"),
    Case("bank", "Frank loses the farm.", False, "modality: might, not does"),
    Case("bank", "The bank wants its money by winter.", True, "paraphrase"),
    Case("bank", "The bank wants its money by summer.", False, "changed season"),
    Case("bank", "Frank will win the farm.", False, "antonym and modality"),
    # spy
    Case("spy", "Esme says Lukas is a spy.", True, "speech report"),
    Case("spy", "Lukas is a spy.", False, "claim stated as fact"),
    Case("spy", "Lukas says he is not a spy.", True, "speech report"),
    Case("spy", "Lukas admits he is a spy.", False, "negation"),
    Case("spy", "Esme is a spy.", False, "swapped agent"),
    # trial
    Case("trial", "The jury found Mr. Hale guilty.", True, "paraphrase"),
    Case("trial", "The jury found Mr. Hale innocent.", False, "antonym: guilty/innocent"),
    Case("trial", "Hale will serve five years.", True, "paraphrase"),
    Case("trial", "Hale will serve six years.", False, "changed number"),
    Case("trial", "Hale serves five months.", False, "changed unit and modality"),
    # question
    Case("question", "Clara opened the safe.", False, "a question is not a fact"),
    Case("question", "Clara says she has never seen the safe.", True, "speech report"),
    Case("question", "Clara has seen the safe.", False, "negation"),
    Case("question", "Clara has never seen the safe.", True, "negation kept"),
    # market
    Case("market", "Tomas buys fish at the market every morning.", True, "speaker is the agent"),
    Case("market", "Tomas sells fish at the market every morning.", False, "antonym: buy/sell"),
    Case("market", "Tomas buys fish at the market every evening.", False, "changed time of day"),
    Case("market", "The market is closed on Sunday.", True, "paraphrase"),
    Case("market", "The market is open on Sunday.", False, "antonym: open/closed"),
    Case("market", "The market is closed on Saturday.", False, "changed weekday"),
    # orders
    Case("orders", "Kim guards the north gate.", False, "an order is not an action"),
    Case("orders", "Kim guards the south gate.", False, "changed place and modality"),
    Case("orders", "The sergeant guards the north gate.", False, "swapped agent"),
    # held-out scenes
    Case("shooting", "Kane shot Bruno in the leg.", True, "speaker is the agent"),
    Case("shooting", "Kane shot Lou in the leg.", False, "swapped object"),
    Case("shooting", "Bruno shot Kane in the leg.", False, "swapped agent"),
    Case("shooting", "Kane shot Bruno in the arm.", False, "changed place"),
    Case("shooting", "Lou says Bruno is her friend.", True, "speech report"),
    Case("shooting", "Bruno is Lou's brother.", False, "changed relationship"),
    Case("shooting", "Kane shot Bruno because Bruno betrayed him.", False, "invented motive"),
    Case("gift", "Marc gave Helen the ring.", True, "paraphrase"),
    Case("gift", "Helen gave Marc the ring.", False, "swapped agent"),
    Case("gift", "Marc bought the ring in Rome.", True, "pronoun resolved"),
    Case("gift", "Marc bought the ring in Paris.", False, "changed place"),
    Case("gift", "Marc stole the ring in Rome.", False, "changed action"),
    Case("keys", "Tilda will lock the shop at nine.", True, "speaker is the agent"),
    Case("keys", "Tilda will lock the shop at ten.", False, "changed time"),
    Case("keys", "Otto will lock the shop at nine.", False, "swapped agent"),
    Case("keys", "Tilda locks the shop at nine.", False, "modality: will, not does"),
    Case("keys", "Tilda will unlock the shop at nine.", False, "antonym"),
    Case("farewell", "Iris is leaving Dublin on the first of May.", True, "paraphrase"),
    Case("farewell", "Iris is leaving Dublin on the second of May.", False, "changed ordinal"),
    Case("farewell", "Iris is leaving Dublin in June.", False, "changed month"),
    Case("farewell", "Iris's mother doesn't know yet.", True, "negation kept"),
    Case("farewell", "Iris's mother knows.", False, "negation"),
    Case("farewell", "Iris's sister doesn't know yet.", False, "changed relationship"),
    Case("ransom", "The kidnappers want two million euros.", True, "paraphrase"),
    Case("ransom", "The kidnappers want three million euros.", False, "changed number"),
    Case("ransom", "Anton says they can pay half by Thursday.", True, "speech report"),
    Case("ransom", "Anton pays half by Thursday.", False, "modality: can, not does"),
    Case("ransom", "Anton says they can pay everything by Thursday.", False, "changed quantity"),
    Case("ransom", "Anton says they can pay half by Friday.", False, "changed weekday"),
    Case("chess", "Yuri beat Mila three times in a row.", True, "paraphrase"),
    Case("chess", "Mila beat Yuri three times in a row.", False, "swapped agent"),
    Case("chess", "Yuri beat Mila four times in a row.", False, "changed number"),
    Case("chess", "Mila has never beaten Yuri.", True, "negation kept"),
    Case("chess", "Mila has beaten Yuri once.", False, "negation"),
    # second held-out round
    Case("boat", "The boat sank near the lighthouse.", True, "paraphrase"),
    Case("boat", "The boat sank near the harbour.", False, "changed place"),
    Case("boat", "Two fishermen drowned.", True, "paraphrase of an elliptical line"),
    Case("boat", "Three fishermen drowned.", False, "changed number"),
    Case("boat", "Two fishermen survived.", False, "invented outcome"),
    Case("boat", "Maja says the boat sank.", False, "speaker swapped"),
    Case("painting", "The painting was stolen from the gallery last night.", True, "passive kept"),
    Case("painting", "The painting was stolen from the museum.", False, "changed place"),
    Case("painting", "The alarm rang.", False, "negation"),
    Case("painting", "The curator stole the painting.", False, "invented agent"),
    Case("vote", "Nina voted for Carver.", True, "speaker is the agent"),
    Case("vote", "Nina voted against Carver.", False, "antonym: for/against"),
    Case("vote", "Nina's husband voted against Carver.", True, "relationship kept"),
    Case("vote", "Nina's husband voted for Carver.", False, "antonym: for/against"),
    Case("vote", "Nina's brother voted against Carver.", False, "changed relationship"),
    Case("meeting", "Ben says they meet at the old mill after dark.", True, "speech report"),
    Case("meeting", "They meet at the old mill before dark.", False, "antonym: before/after"),
    Case("meeting", "Ben tells them to bring Sofia.", True, "an order reported"),
    Case("meeting", "Ben wants Sofia's brother to come.", False, "negation"),
    Case("meeting", "Sofia meets Ben at the mill.", False, "invented agent and modality"),
    # third held-out round
    Case("inherit", "Maria inherits the house.", False, "a verb the lines do not use (inherit)"),
    Case("inherit", "The aunt left the house to Maria.", True, "paraphrase"),
    Case("inherit", "The aunt left the farm to Maria.", False, "swapped object"),
    Case("inherit", "The farm goes to Maria's cousins.", True, "relationship kept"),
    Case("inherit", "The house goes to her cousins.", False, "swapped object"),
    Case("flight", "Flight 212 to Oslo is delayed by two hours.", True, "paraphrase"),
    Case("flight", "Flight 212 to Oslo is delayed by three hours.", False, "changed number"),
    Case("flight", "Flight 212 to Bergen is delayed.", False, "changed place"),
    Case("flight", "Petra will miss her meeting.", True, "speaker is the agent"),
    Case("flight", "Petra misses her flight.", False, "changed object and modality"),
    Case("till", "Rafael took the money from the till.", True, "a witness's line"),
    Case("till", "Rafael put the money back an hour later.", True, "pronoun resolved"),
    Case("till", "Rafael kept the money.", False, "invented action"),
    Case("till", "Rafael put the money back a day later.", False, "changed period"),
    Case("till", "Mira took the money from the till.", False, "swapped agent"),
    Case("fight", "Leon hit Caleb first.", True, "paraphrase"),
    Case("fight", "Caleb hit Leon first.", False, "swapped agent"),
    Case("fight", "Caleb did not fight back.", True, "negation kept"),
    Case("fight", "Caleb fought back.", False, "negation"),
    Case("fight", "Leon hit Caleb second.", False, "changed ordinal"),
    Case("recipe", "Gran adds four eggs.", False, "negation and number"),
    Case("recipe", "The cake bakes for forty minutes.", False, "a thing the lines do not name"),
    Case("recipe", "Gran says to bake it for forty minutes.", True, "an instruction reported"),
    Case("recipe", "Gran says to bake it for fifty minutes.", False, "changed number"),
    # fourth held-out round
    Case("school", "Theo has been expelled.", True, "paraphrase"),
    Case("school", "Theo has been suspended.", False, "changed outcome"),
    Case("school", "Theo's parents were told on Wednesday.", True, "passive kept"),
    Case("school", "Theo's parents were told on Tuesday.", False, "changed weekday"),
    Case("school", "Theo's parents were never told.", False, "negation"),
    Case("cabin", "The man who rented the cabin paid in cash.", True, "paraphrase"),
    Case("cabin", "The man who rented the cabin paid by card.", False, "changed means"),
    Case("cabin", "The man left after two nights.", True, "pronoun for an unnamed man"),
    Case("cabin", "The man left after three nights.", False, "changed number"),
    Case("cabin", "Ruth rented the cabin.", False, "swapped agent"),
    Case("cabin", "The man left before two nights.", False, "antonym: before/after"),
    Case("navy", "Grandpa joined the navy at seventeen.", True, "paraphrase"),
    Case("navy", "Grandpa joined the army at seventeen.", False, "changed object"),
    Case("navy", "Grandpa joined the navy at eighteen.", False, "changed number"),
    Case("navy", "Grandpa served for twenty years.", True, "speaker is the agent"),
    Case("navy", "Grandpa served for twelve years.", False, "changed number"),
    Case("diary", "Eli burned the diary.", False, "the lines disagree"),
    Case("diary", "June says Eli would never burn the diary.", True, "speech report"),
    Case("diary", "June burned the diary.", False, "swapped agent"),
    Case("band", "The band cancelled the tour.", True, "paraphrase"),
    Case("band", "The band finished the tour.", False, "changed action"),
    Case("band", "Only the singer wanted to keep playing.", False, "swapped agent"),
    Case("band", "The drummer wanted to keep playing.", True, "paraphrase"),
    Case("band", "Everyone wanted to keep playing.", False, "changed quantity"),
    Case("crash", "Laura called her sister before the crash.", True, "speaker's line about her"),
    Case("crash", "Laura called her sister after the crash.", False, "antonym: before/after"),
    Case("crash", "Laura called the police.", False, "negation"),
    Case("crash", "Laura called her brother before the crash.", False, "changed relationship"),
    Case("crash", "Laura's sister called her before the crash.", False, "swapped agent"),
    # fifth held-out round
    Case("mine", "Six miners are trapped below the second shaft.", True, "paraphrase"),
    Case("mine", "Seven miners are trapped below the second shaft.", False, "changed number"),
    Case("mine", "Six miners are trapped below the first shaft.", False, "changed ordinal"),
    Case("mine", "The rescue team arrives at dusk.", False, "antonym: dawn/dusk"),
    Case("mine", "The rescue team arrives at dawn.", True, "paraphrase"),
    Case("mine", "Six miners escaped.", False, "invented outcome"),
    Case("cairo", "Paul wrote to Anna every week from Cairo.", True, "paraphrase"),
    Case("cairo", "Anna wrote to Paul every week from Cairo.", False, "swapped agent"),
    Case("cairo", "Paul wrote to Anna every month.", False, "changed period"),
    Case("cairo", "Anna never answered Paul.", True, "negation kept"),
    Case("cairo", "Anna answered Paul.", False, "negation"),
    Case("cairo", "Paul wrote to Anna from Alexandria.", False, "changed place"),
    Case("bakery", "The bakery opens at seven on weekdays.", False, "a place the lines do not name"),
    Case("bakery", "The chef says they open at seven on weekdays.", True, "speech report"),
    Case("bakery", "The chef says they open at eight.", False, "changed time"),
    Case("bakery", "The chef says they open on Sundays.", False, "a day from another line (closed then)"),
    Case("contract", "Harlan's partner signed the contract.", True, "relationship kept"),
    Case("contract", "Harlan signed the contract.", False, "negation and swapped agent"),
    Case("contract", "Harlan was in Madrid that week.", True, "speaker is the agent"),
    Case("contract", "Harlan was in Lisbon that week.", False, "changed place"),
    Case("contract", "Harlan's brother signed the contract.", False, "changed relationship"),
    Case("wolves", "The wolves returned to the valley last winter.", True, "paraphrase"),
    Case("wolves", "The wolves left the valley last winter.", False, "antonym"),
    Case("wolves", "The wolves returned to the valley last summer.", False, "changed season"),
    Case("wolves", "Hunters killed two of the wolves.", True, "paraphrase"),
    Case("wolves", "Hunters killed three of the wolves.", False, "changed number"),
    Case("wolves", "The ranger killed two of the wolves.", False, "swapped agent"),
]


@dataclass
class Outcome:
    case: Case
    verdict: str
    problems: list[str]


def evaluate(cases: list[Case] | None = None) -> list[Outcome]:
    """Run the local verifier (the real `verify.verify`) on every case, each sentence citing its scene's cues."""
    from studio_tools.recap.episodes import CueRef
    from studio_tools.recap.verify import Sentence, verify

    outcomes = []
    for case in CASES if cases is None else cases:
        cues = [CueRef(f"e1c{i}", 1, i, 4.0 * i, 4.0 * i + 2.5, line) for i, line in enumerate(SCENES[case.scene], 1)]
        usable = {c.id: c for c in cues}
        sentence = Sentence(case.sentence, [c.id for c in cues], "edited")
        verify([sentence], usable, set(usable))
        outcomes.append(Outcome(case, sentence.verdict, sentence.problems))
    return outcomes


def confusion(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    matrix = {truth: dict.fromkeys(("verified", "unverified", "contradicted"), 0) for truth in ("true", "false")}
    for o in outcomes:
        matrix["true" if o.case.true else "false"][o.verdict] += 1
    return matrix


def report(outcomes: list[Outcome]) -> str:
    m = confusion(outcomes)
    true_n, false_n = sum(m["true"].values()), sum(m["false"].values())
    held = m["false"]["unverified"] + m["false"]["contradicted"]
    lines = [
        f"narration verifier benchmark: {len(outcomes)} sentence/lines pairs ({true_n} true, {false_n} false)",
        f"{'':14}{'verified':>10}{'unverified':>12}{'contradicted':>14}",
    ]
    for truth in ("true", "false"):
        row = m[truth]
        lines.append(f"{truth + ' sentences':14}{row['verified']:>10}{row['unverified']:>12}{row['contradicted']:>14}")
    lines.append(f"false held back: {held}/{false_n} ({100 * held / max(1, false_n):.1f}%)")
    lines.append(f"true verified:   {m['true']['verified']}/{true_n} ({100 * m['true']['verified'] / max(1, true_n):.1f}%)")
    wrong = [o for o in outcomes if o.case.true != (o.verdict == "verified")]
    for o in wrong:
        label = "TRUE, not verified" if o.case.true else "FALSE, verified"
        lines.append(f"  {label}: {o.case.sentence!r} [{o.case.kind}] -> {o.verdict}: {'; '.join(o.problems)[:160]}")
    return "\n".join(lines)
