-- A realistic population of users for the benchmarks and the plan tests (bench/run.sh --users N,
-- crates/adapters/postgres/tests/users_plan.rs), on PostgreSQL: `seed.users` users added to a database that holds
-- none seeded yet, all with the password hash `seed.password_hash` (hashing a million passwords would take hours and
-- measure nothing). Set both first, in the same session:
--
--   SET seed.users = 1000000; SET seed.password_hash = '...';
--
-- then run this (it is one transaction), then `VACUUM users, user_roles` (outside a transaction): a table of this
-- size in service has been vacuumed by autovacuum, and until it is, every index-only scan also reads the table.
-- Everything is drawn from a hash of the user's number: two seeds of the same size are the same.
--
-- The population: first and last names drawn from the 200 and 530 commonest in the United States, the common ones
-- far more often (a product of two uniform draws: the first name of a list about ten times as often as the middle
-- one, so that a prefix matches as many people as it would in a real population); emails first.last+n@ one of a few
-- mail providers (a fifth of them capitalised); about 30% with a username; 1% admins (every user has the role
-- `user`); 0.5% suspended now (and 0.1% whose suspension has run out); 70% with a verified address; created over the
-- last 3 years in id order, and 80% signed in at least once since.
BEGIN;
SET LOCAL maintenance_work_mem = '256MB';
-- Compiling the insert's expressions would take seconds of its own.
SET LOCAL jit = off;

-- A uniform draw in [0, 1), the `k`th of user `i`.
CREATE OR REPLACE FUNCTION pg_temp.draw(i bigint, k bigint) RETURNS float8 IMMUTABLE LANGUAGE sql
    AS 'SELECT (hashint8extended(i, k) & 1048575)::float8 / 1048576';

-- The secondary indexes and the foreign keys are dropped, and made again after the insert from their definitions in
-- the catalog (as the migrations made them): building an index, or checking a key, at once takes a fraction of
-- doing it row by row.
CREATE TEMP TABLE seed_indexes ON COMMIT DROP AS
    SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition
    FROM pg_index
    WHERE indrelid IN ('users'::regclass, 'user_roles'::regclass)
      AND NOT EXISTS (SELECT FROM pg_constraint WHERE conindid = indexrelid);
CREATE TEMP TABLE seed_keys ON COMMIT DROP AS
    SELECT conrelid::regclass::text AS on_table, quote_ident(conname) AS name, pg_get_constraintdef(oid) AS definition
    FROM pg_constraint
    WHERE contype = 'f' AND conrelid IN ('users'::regclass, 'user_roles'::regclass);
DO $$ DECLARE i record; BEGIN
    FOR i IN SELECT * FROM seed_indexes LOOP EXECUTE 'DROP INDEX ' || i.name; END LOOP;
    FOR i IN SELECT * FROM seed_keys LOOP
        EXECUTE 'ALTER TABLE ' || i.on_table || ' DROP CONSTRAINT ' || i.name;
    END LOOP;
END $$;

-- Nor do the triggers run: the users are new, so no instance remembers them, and a notification for each would cost
-- more than the insert. The count of users is set once at the end (ALTER TABLE's lock keeps other writers out until
-- the commit, so it is exact).
ALTER TABLE users DISABLE TRIGGER USER;
ALTER TABLE user_roles DISABLE TRIGGER USER;

WITH first_names AS (
    SELECT * FROM unnest(ARRAY[
        'James', 'Mary', 'John', 'Patricia', 'Robert', 'Jennifer', 'Michael', 'Linda', 'William', 'Elizabeth',
        'David', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Charles', 'Karen',
        'Christopher', 'Nancy', 'Daniel', 'Lisa', 'Matthew', 'Betty', 'Anthony', 'Margaret', 'Mark', 'Sandra',
        'Donald', 'Ashley', 'Steven', 'Kimberly', 'Paul', 'Emily', 'Andrew', 'Donna', 'Joshua', 'Michelle',
        'Kenneth', 'Dorothy', 'Kevin', 'Carol', 'Brian', 'Amanda', 'George', 'Melissa', 'Edward', 'Deborah',
        'Ronald', 'Stephanie', 'Timothy', 'Rebecca', 'Jason', 'Sharon', 'Jeffrey', 'Laura', 'Ryan', 'Cynthia',
        'Jacob', 'Kathleen', 'Gary', 'Amy', 'Nicholas', 'Shirley', 'Eric', 'Angela', 'Jonathan', 'Helen',
        'Stephen', 'Anna', 'Larry', 'Brenda', 'Justin', 'Pamela', 'Scott', 'Nicole', 'Brandon', 'Emma',
        'Benjamin', 'Samantha', 'Samuel', 'Katherine', 'Gregory', 'Christine', 'Frank', 'Debra', 'Alexander',
        'Rachel', 'Raymond', 'Catherine', 'Patrick', 'Carolyn', 'Jack', 'Janet', 'Dennis', 'Ruth', 'Jerry',
        'Maria', 'Tyler', 'Heather', 'Aaron', 'Diane', 'Jose', 'Virginia', 'Adam', 'Julie', 'Henry', 'Joyce',
        'Nathan', 'Victoria', 'Douglas', 'Olivia', 'Zachary', 'Kelly', 'Peter', 'Christina', 'Kyle', 'Lauren',
        'Walter', 'Joan', 'Ethan', 'Evelyn', 'Jeremy', 'Judith', 'Harold', 'Megan', 'Keith', 'Cheryl',
        'Christian', 'Andrea', 'Roger', 'Hannah', 'Noah', 'Martha', 'Gerald', 'Jacqueline', 'Carl', 'Frances',
        'Terry', 'Gloria', 'Sean', 'Ann', 'Austin', 'Teresa', 'Arthur', 'Kathryn', 'Lawrence', 'Sara', 'Jesse',
        'Janice', 'Dylan', 'Jean', 'Bryan', 'Alice', 'Joe', 'Madison', 'Jordan', 'Doris', 'Billy', 'Abigail',
        'Bruce', 'Julia', 'Albert', 'Judy', 'Willie', 'Grace', 'Gabriel', 'Denise', 'Logan', 'Amber', 'Alan',
        'Marilyn', 'Juan', 'Beverly', 'Wayne', 'Danielle', 'Roy', 'Theresa', 'Ralph', 'Sophia', 'Randy',
        'Marie', 'Eugene', 'Diana', 'Vincent', 'Brittany', 'Russell', 'Natalie', 'Elijah', 'Isabella', 'Louis',
        'Charlotte', 'Bobby', 'Rose', 'Philip', 'Alexis', 'Johnny', 'Kayla'
    ]) WITH ORDINALITY AS names (name, rank)
), last_names AS (
    SELECT * FROM unnest(ARRAY[
        'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez',
        'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson',
        'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis',
        'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores',
        'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts',
        'Gomez', 'Phillips', 'Evans', 'Turner', 'Diaz', 'Parker', 'Cruz', 'Edwards', 'Collins', 'Reyes',
        'Stewart', 'Morris', 'Morales', 'Murphy', 'Cook', 'Rogers', 'Gutierrez', 'Ortiz', 'Morgan', 'Cooper',
        'Peterson', 'Bailey', 'Reed', 'Kelly', 'Howard', 'Ramos', 'Kim', 'Cox', 'Ward', 'Richardson', 'Watson',
        'Brooks', 'Chavez', 'Wood', 'James', 'Bennett', 'Gray', 'Mendoza', 'Ruiz', 'Hughes', 'Price', 'Alvarez',
        'Castillo', 'Sanders', 'Patel', 'Myers', 'Long', 'Ross', 'Foster', 'Jimenez', 'Powell', 'Jenkins',
        'Perry', 'Russell', 'Sullivan', 'Bell', 'Coleman', 'Butler', 'Henderson', 'Barnes', 'Gonzales',
        'Fisher', 'Vasquez', 'Simmons', 'Romero', 'Jordan', 'Patterson', 'Alexander', 'Hamilton', 'Graham',
        'Reynolds', 'Griffin', 'Wallace', 'Moreno', 'West', 'Cole', 'Hayes', 'Bryant', 'Herrera', 'Gibson',
        'Ellis', 'Tran', 'Medina', 'Aguilar', 'Stevens', 'Murray', 'Ford', 'Castro', 'Marshall', 'Owens',
        'Harrison', 'Fernandez', 'Mcdonald', 'Woods', 'Washington', 'Kennedy', 'Wells', 'Vargas', 'Henry',
        'Chen', 'Freeman', 'Webb', 'Tucker', 'Guzman', 'Burns', 'Crawford', 'Olson', 'Simpson', 'Porter',
        'Hunter', 'Gordon', 'Mendez', 'Silva', 'Shaw', 'Snyder', 'Mason', 'Dixon', 'Munoz', 'Hunt', 'Hicks',
        'Holmes', 'Palmer', 'Wagner', 'Black', 'Robertson', 'Boyd', 'Rose', 'Stone', 'Salazar', 'Fox', 'Warren',
        'Mills', 'Meyer', 'Rice', 'Schmidt', 'Garza', 'Daniels', 'Ferguson', 'Nichols', 'Stephens', 'Soto',
        'Weaver', 'Ryan', 'Gardner', 'Payne', 'Grant', 'Dunn', 'Kelley', 'Spencer', 'Hawkins', 'Arnold',
        'Pierce', 'Vazquez', 'Hansen', 'Peters', 'Santos', 'Hart', 'Bradley', 'Knight', 'Elliott', 'Cunningham',
        'Duncan', 'Armstrong', 'Hudson', 'Carroll', 'Lane', 'Riley', 'Andrews', 'Alvarado', 'Ray', 'Delgado',
        'Berry', 'Perkins', 'Hoffman', 'Johnston', 'Matthews', 'Pena', 'Richards', 'Contreras', 'Willis',
        'Carpenter', 'Lawrence', 'Sandoval', 'Guerrero', 'George', 'Chapman', 'Rios', 'Estrada', 'Ortega',
        'Watkins', 'Greene', 'Nunez', 'Wheeler', 'Valdez', 'Harper', 'Burke', 'Larson', 'Santiago', 'Maldonado',
        'Morrison', 'Franklin', 'Carlson', 'Austin', 'Dominguez', 'Carr', 'Lawson', 'Jacobs', 'Obrien', 'Lynch',
        'Singh', 'Vega', 'Bishop', 'Montgomery', 'Oliver', 'Jensen', 'Harvey', 'Williamson', 'Gilbert', 'Dean',
        'Sims', 'Espinoza', 'Howell', 'Li', 'Wong', 'Reid', 'Hanson', 'Le', 'Mccoy', 'Garrett', 'Burton',
        'Fuller', 'Wang', 'Weber', 'Welch', 'Rojas', 'Lucas', 'Marquez', 'Fields', 'Park', 'Yang', 'Little',
        'Banks', 'Padilla', 'Day', 'Walsh', 'Bowman', 'Schultz', 'Luna', 'Fowler', 'Mejia', 'Davidson',
        'Acosta', 'Brewer', 'May', 'Holland', 'Juarez', 'Newman', 'Pearson', 'Curtis', 'Cortez', 'Douglas',
        'Schneider', 'Joseph', 'Barrett', 'Navarro', 'Figueroa', 'Keller', 'Avila', 'Wade', 'Molina', 'Stanley',
        'Hopkins', 'Campos', 'Barnett', 'Bates', 'Chambers', 'Caldwell', 'Beck', 'Lambert', 'Miranda', 'Byrd',
        'Craig', 'Ayala', 'Lowe', 'Frazier', 'Powers', 'Neal', 'Leonard', 'Gregory', 'Carrillo', 'Sutton',
        'Fleming', 'Rhodes', 'Shelton', 'Schwartz', 'Norris', 'Jennings', 'Watts', 'Duran', 'Walters', 'Cohen',
        'Mcdaniel', 'Moran', 'Parks', 'Steele', 'Vaughn', 'Becker', 'Holt', 'Deleon', 'Barker', 'Terry', 'Hale',
        'Leon', 'Bush', 'Blake', 'Mack', 'Wolfe', 'Christensen', 'Hardy', 'Reeves', 'Summers', 'Thornton',
        'Burgess', 'Pope', 'Bowen', 'Tate', 'Glover', 'Gill', 'Harmon', 'Cross', 'Ball', 'Goodman', 'Sharp',
        'Brady', 'Pratt', 'Klein', 'Parsons', 'Potter', 'Mann', 'Ingram', 'Norton', 'Fitzgerald', 'Frank',
        'Gross', 'Hodges', 'Mckinney', 'Holloway', 'Lloyd', 'Cannon', 'Sparks', 'Hampton', 'Owen', 'Manning',
        'Swanson', 'Barber', 'Brock', 'Cummings', 'Lamb', 'Buchanan', 'Maxwell', 'Nielsen', 'Fletcher', 'Hines',
        'Doyle', 'Quinn', 'Clarke', 'Mcbride', 'Oconnor', 'Conner', 'Briggs', 'Sherman', 'Benson', 'Garner',
        'Cain', 'Bridges', 'Robbins', 'Hammond', 'Zimmerman', 'Francis', 'Wiggins', 'Simon', 'Hubbard',
        'Daniel', 'Goodwin', 'Vincent', 'Ramsey', 'Roy', 'Tyler', 'Page', 'Todd', 'Morton', 'Wilkins', 'Hogan',
        'Cervantes', 'Horton', 'Stokes', 'Boone', 'Higgins', 'Harrington', 'Lyons', 'Floyd', 'Phelps',
        'Harrell', 'Dennis', 'Mathis', 'Copeland', 'Rowe', 'Erickson', 'Flowers', 'Dawson', 'Adkins', 'Love',
        'Wise', 'Baldwin', 'Rivas', 'Valencia', 'Salinas', 'Moss', 'Sawyer', 'Osborne', 'Mullins', 'Cobb',
        'Patrick', 'Poole', 'Kirby', 'Pittman', 'Bauer', 'Huff', 'Collier', 'Solis', 'Rich', 'Villarreal',
        'Cantu', 'Leblanc', 'Montoya', 'Marsh', 'Bradford', 'Gates', 'Farmer', 'Ochoa', 'Whitaker', 'Dillon',
        'Sweeney', 'Dunlap', 'Hess', 'Underwood', 'Atkins', 'Zamora', 'Hurst', 'Coffey', 'Mcgee', 'Frost',
        'Bentley', 'Casey', 'Meza', 'Mosley', 'Hood', 'Calderon', 'Haynes', 'Wilkerson', 'Weiss', 'Nolan',
        'Valentine', 'Macdonald', 'Chandler', 'Rocha', 'Bond', 'Hurley', 'Velez', 'Glenn', 'Madden', 'Beard',
        'Tanner', 'Hendricks', 'Kramer', 'Melton', 'Short', 'Booth', 'Dickerson', 'Mueller'
    ]) WITH ORDINALITY AS names (name, rank)
), domains AS (
    SELECT * FROM unnest(ARRAY[
        'gmail.com', 'yahoo.com', 'outlook.com', 'hotmail.com', 'icloud.com', 'aol.com', 'proton.me', 'example.com'
    ]) WITH ORDINALITY AS names (name, rank)
), drawn AS (
    -- Times are counted in seconds after the start: adding an interval of years or days to a time goes through the
    -- time zone's rules, a million times over; adding seconds does not.
    SELECT i, start, span,
           1 + floor((SELECT count(*) FROM first_names) * pg_temp.draw(i, 1) * pg_temp.draw(i, 2)) AS first_rank,
           1 + floor((SELECT count(*) FROM last_names) * pg_temp.draw(i, 3) * pg_temp.draw(i, 4)) AS last_rank,
           1 + floor((SELECT count(*) FROM domains) * pg_temp.draw(i, 5) * pg_temp.draw(i, 6)) AS domain_rank,
           (i - 1 + pg_temp.draw(i, 7)) / count * span AS created
    FROM (SELECT current_setting('seed.users')::bigint AS count, now() - interval '3 years' AS start,
                 extract(epoch FROM interval '3 years')::float8 AS span) AS seed,
         generate_series(1, count) AS i
), person AS (
    SELECT i, first_names.name AS first_name, last_names.name AS last_name,
           CASE WHEN pg_temp.draw(i, 8) < 0.2 THEN first_names.name || '.' || last_names.name
                ELSE lower(first_names.name || '.' || last_names.name) END || '+' || i || '@' || domains.name AS email,
           start + created * interval '1 second' AS created_at,
           CASE WHEN pg_temp.draw(i, 9) < 0.8
               THEN start + (created + (span - created) * pg_temp.draw(i, 10)) * interval '1 second' END
               AS last_sign_in_at,
           CASE WHEN pg_temp.draw(i, 11) < 0.006
               THEN start + (created + (span - created) * pg_temp.draw(i, 12)) * interval '1 second' END
               AS suspended_at
    FROM drawn
    JOIN first_names ON first_names.rank = first_rank
    JOIN last_names ON last_names.rank = last_rank
    JOIN domains ON domains.rank = domain_rank
), added AS (
    INSERT INTO users (object_id, email, email_key, username, password_hash, first_name, last_name, email_verified,
                       created_at, updated_at, last_sign_in_at, suspended_at, suspended_until, suspension_reason)
    SELECT lpad(to_hex(i), 24, '0'), email, lower(email),
           CASE WHEN pg_temp.draw(i, 13) < 0.15 THEN lower(first_name) || i
                WHEN pg_temp.draw(i, 13) < 0.3 THEN lower(left(first_name, 1) || last_name) || i END,
           current_setting('seed.password_hash'), first_name, last_name, pg_temp.draw(i, 14) < 0.7,
           created_at, created_at, last_sign_in_at, suspended_at,
           -- Half of the suspensions until further notice, a third for another month, the rest over.
           CASE WHEN suspended_at IS NULL OR pg_temp.draw(i, 15) < 0.5 THEN NULL
                WHEN pg_temp.draw(i, 15) < 0.83 THEN now() + interval '30 days'
                ELSE suspended_at + (now() - suspended_at) / 2 END,
           CASE WHEN suspended_at IS NOT NULL THEN 'Reported for spam' END
    FROM person
    ORDER BY i -- the ids in the order of creation
    RETURNING id
)
INSERT INTO user_roles (user_id, role_id)
SELECT id, 2 FROM added
UNION ALL
SELECT id, 1 FROM added WHERE pg_temp.draw(id, 16) < 0.01;

UPDATE user_count SET users = (SELECT count(*) FROM users);
ALTER TABLE users ENABLE TRIGGER USER;
ALTER TABLE user_roles ENABLE TRIGGER USER;
DO $$ DECLARE i record; BEGIN
    FOR i IN SELECT * FROM seed_indexes LOOP EXECUTE i.definition; END LOOP;
    FOR i IN SELECT * FROM seed_keys LOOP
        EXECUTE 'ALTER TABLE ' || i.on_table || ' ADD CONSTRAINT ' || i.name || ' ' || i.definition;
    END LOOP;
END $$;
ANALYZE users, user_roles;
COMMIT;
