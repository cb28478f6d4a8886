//! The behaviour every store must show through the `UserRepository`, `SessionRepository`, `OneTimeTokenRepository`,
//! `SecondFactorRepository`, `MailOutbox` and `AuditLog` ports, written once and run against each adapter. Nothing
//! here knows which store it talks to: [`store_contract_tests!`] makes one test per contract function, each creating a
//! fresh, empty store and handing its repositories to the function.
//!
//! The functions are grouped by topic, one module each; every one reads as given / when / then. Timestamps are
//! truncated to microseconds, the finest precision a store is expected to keep, so that what is read back can be
//! compared for equality with what was written.

pub mod audit;
pub mod deletion;
mod fixtures;
pub mod listing;
pub mod lockout;
pub mod one_time_tokens;
pub mod outbox;
pub mod refresh_tokens;
pub mod roles;
pub mod second_factor;
pub mod sessions;
pub mod suspension;
pub mod uniqueness;
pub mod updates;
pub mod users;

pub use fixtures::{
    audit, device, email, full_profile, in_id_order, insert_ok, mailed_token, mfa_token, new_admin, new_session,
    new_user, now, object_id, one_time, other_password_hash, password_hash, person_name, seconds, set_roles,
    signed_in_at, suspension, token, touch, url, username,
};

/// Declares one `#[tokio::test]` per contract function, named as the function. `$setup` is an async function
/// returning `Option<(users, sessions, one_time_tokens, second_factors, outbox, audit_log, guard)>` for a fresh, empty
/// store (`None` skips the test, when the store is unavailable outside CI); the guard is kept alive until the test
/// ends, so it can drop the store afterwards. The functions of the users and sessions take those two repositories;
/// those of the mail, the users, sessions, one-time tokens and outbox; those of the audit log, the users, sessions and
/// one-time tokens that write it, and the log; those of the second factor, the users, sessions, one-time tokens, second
/// factors and the log.
#[macro_export]
macro_rules! store_contract_tests {
    ($setup:path) => {
        $crate::store_contract_tests!(@each $setup;
            users {
                insert_then_find_by_ids,
                insert_user_without_roles,
                insert_with_duplicate_roles_keeps_one_of_each,
                users_without_username_coexist,
                find_credentials_by_email_ignores_case,
                find_credentials_by_username_ignores_case,
                email_verified_is_stored_and_changed_only_when_given,
                check_health_is_ok,
            }
            uniqueness {
                duplicate_email_differing_by_case_is_refused,
                emails_differing_by_non_ascii_case_are_one_account,
                duplicate_username_differing_by_case_is_refused,
                concurrent_inserts_of_one_email_admit_one,
            }
            updates {
                partial_update_keeps_untouched_fields,
                update_clears_username_and_profile_fields,
                update_changes_email_and_username,
                update_to_a_taken_email_or_username_changes_nothing,
                update_with_roles_to_a_taken_email_changes_nothing,
                update_of_unknown_user_is_not_found,
            }
            roles {
                update_replaces_roles_only_when_given,
                set_roles_replaces_the_roles,
                update_demoting_the_last_admin_changes_nothing,
                set_roles_refuses_to_demote_the_last_admin,
                concurrent_demotion_of_the_two_admins_keeps_one,
                set_roles_of_unknown_user_is_not_found,
                demoting_the_only_active_admin_changes_nothing_while_the_others_are_suspended,
                list_roles_returns_the_known_roles,
            }
            deletion {
                delete_removes_user_with_roles_and_sessions,
                delete_of_unknown_user_is_not_found,
                last_admin_cannot_be_deleted,
                concurrent_deletion_of_the_two_admins_keeps_one,
                the_only_active_admin_cannot_be_deleted_while_the_others_are_suspended,
                concurrent_suspension_and_deletion_of_the_two_admins_keep_one_active,
            }
            listing {
                list_pages_in_id_order,
                a_prefix_finds_users_by_address_username_or_name_whatever_the_case,
                filters_by_role_status_verification_and_creation_time,
                sorts_by_address_creation_and_last_sign_in_either_way,
                a_filtered_count_stops_at_its_limit,
            }
            sessions {
                signed_in_until_revoked,
                expired_session_is_not_signed_in,
                session_of_another_user_is_not_signed_in,
                revoke_all_of_user_keeps_the_given_session,
                a_session_is_not_started_once_the_checked_password_changed,
                a_password_change_ends_the_other_sessions_with_it,
                a_session_for_a_deleted_user_is_not_created,
                ended_and_expired_sessions_are_purged,
                live_sessions_are_listed_most_recently_used_first,
                a_rotation_moves_the_last_use_and_the_device,
                a_session_is_ended_by_its_key_only_for_its_owner,
                a_started_session_is_the_last_sign_in_and_may_replace_the_password_hash,
            }
            refresh_tokens {
                refresh_token_rotates_once_then_is_replayed,
                refresh_token_of_revoked_session_says_the_session_ended,
                concurrent_rotations_of_one_token_rotate_it_once,
                a_rotation_moves_the_expiry_and_its_successor_rotates_next,
                a_revoked_session_gets_no_new_refresh_token,
            }
            lockout {
                concurrent_attempts_from_a_network_are_held_to_its_threshold,
                concurrent_correct_sign_ins_never_lock,
                a_network_lock_doubles_up_to_its_cap_and_a_success_resets_it,
                failures_spread_over_networks_reach_the_backstop,
                attempts_lost_in_a_crash_give_their_room_back_and_count_for_nothing,
                concurrent_attempts_from_many_networks_are_held_to_the_backstop,
                idle_sign_in_counts_are_purged,
            }
        );
        $crate::store_contract_tests!(@each_with_mail $setup;
            one_time_tokens {
                a_verification_token_made_at_sign_up_finds_its_user_and_its_mail_is_queued,
                confirming_an_email_verifies_it_and_uses_the_token_up,
                an_expired_token_is_not_usable,
                a_token_for_an_address_the_user_no_longer_has_does_nothing,
                a_token_is_issued_only_for_the_users_address,
                a_second_token_within_the_interval_is_too_soon,
                concurrent_requests_for_a_token_queue_one_mail,
                a_new_reset_token_voids_the_older_ones,
                a_new_password_or_address_voids_the_links_mailed_before,
                an_address_is_sent_one_verification_or_notice_per_interval_whatever_the_changes,
                a_password_reset_replaces_the_password_ends_sessions_clears_the_lockout_and_verifies,
                concurrent_resets_with_one_token_succeed_once,
                an_email_change_queues_a_verification_and_a_notice_with_the_update,
                used_and_expired_tokens_are_purged,
                deleting_a_user_deletes_its_tokens_but_not_its_mail,
            }
            outbox {
                mail_reads_back_as_it_was_queued,
                the_oldest_due_mail_is_claimed_first_up_to_the_limit,
                claimed_mail_is_hidden_until_its_lease_ends,
                sent_mail_leaves_the_outbox,
                retried_mail_is_due_again_at_its_next_attempt,
                failed_mail_is_never_claimed_again_and_is_counted,
                concurrent_claims_get_disjoint_mail,
            }
            suspension {
                a_suspension_is_read_back_wherever_the_user_is_read,
                a_suspension_ends_every_session_of_the_user,
                a_suspension_voids_the_unused_reset_links_but_not_the_verification,
                the_only_active_admin_cannot_be_suspended,
                concurrent_suspensions_of_the_two_admins_keep_one_active,
                suspending_or_lifting_an_unknown_user_finds_no_one,
                lifting_a_suspension_clears_it_and_ends_nothing_more,
                a_sign_in_checked_before_a_suspension_starts_no_session,
            }
        );
        $crate::store_contract_tests!(@each_with_second_factor $setup;
            second_factor {
                an_enrolment_is_pending_until_confirmed,
                a_new_enrolment_replaces_a_pending_one,
                an_enrolment_is_refused_once_a_factor_is_confirmed,
                confirming_enables_the_factor_marks_the_user_and_records_it,
                a_code_of_a_replaced_secret_confirms_nothing,
                a_password_reset_or_a_suspension_voids_the_sign_ins_waiting_for_a_code,
                confirming_without_a_pending_enrolment_does_nothing,
                removing_a_confirmed_factor_clears_it_with_its_codes_and_records_it,
                removing_a_pending_factor_or_none_records_nothing,
                a_waiting_sign_in_is_a_token_of_its_own_purpose,
                a_sign_in_finished_with_a_code_starts_the_session_and_uses_the_token,
                a_code_of_a_step_used_before_is_refused_and_uses_nothing_up,
                a_code_of_an_older_step_is_refused,
                the_confirmation_step_is_used_and_a_pending_factor_admits_no_code,
                a_recovery_code_works_once,
                an_expired_sign_in_token_is_refused,
                a_token_finishes_only_its_own_users_sign_in,
                a_new_password_voids_a_waiting_sign_in,
                a_password_changed_between_the_steps_starts_no_session,
                deleting_a_user_deletes_the_factor_and_the_waiting_sign_ins,
                concurrent_sign_ins_with_one_code_admit_one,
            }
        );
        $crate::store_contract_tests!(@each_with_audit $setup;
            audit {
                creating_and_updating_a_user_record_their_events_about_the_user,
                a_sign_in_records_its_session_its_failures_and_the_locks_they_set,
                ending_sessions_records_about_their_user_only_what_was_asked_of_an_existing_one,
                one_time_tokens_record_only_a_token_stored_or_used,
                unlocking_suspending_and_deleting_record_only_what_was_done,
                every_kind_is_stored_and_read_back,
                events_are_listed_newest_first_by_user_and_kind_a_page_at_a_time,
                pruning_deletes_only_the_events_older_than_asked,
            }
        );
    };
    (@each $setup:path; $($module:ident { $($name:ident,)+ })+) => {$($(
        #[tokio::test(flavor = "multi_thread")]
        async fn $name() {
            let Some((users, sessions, _one_time_tokens, _second_factors, _outbox, _audit_log, _guard)) = $setup().await
            else {
                return;
            };
            $crate::$module::$name(users, sessions).await;
        }
    )+)+};
    (@each_with_mail $setup:path; $($module:ident { $($name:ident,)+ })+) => {$($(
        #[tokio::test(flavor = "multi_thread")]
        async fn $name() {
            let Some((users, sessions, one_time_tokens, _second_factors, outbox, _audit_log, _guard)) = $setup().await
            else {
                return;
            };
            $crate::$module::$name(users, sessions, one_time_tokens, outbox).await;
        }
    )+)+};
    (@each_with_audit $setup:path; $($module:ident { $($name:ident,)+ })+) => {$($(
        #[tokio::test(flavor = "multi_thread")]
        async fn $name() {
            let Some((users, sessions, one_time_tokens, _second_factors, _outbox, audit_log, _guard)) = $setup().await
            else {
                return;
            };
            $crate::$module::$name(users, sessions, one_time_tokens, audit_log).await;
        }
    )+)+};
    (@each_with_second_factor $setup:path; $($module:ident { $($name:ident,)+ })+) => {$($(
        #[tokio::test(flavor = "multi_thread")]
        async fn $name() {
            let Some((users, sessions, one_time_tokens, second_factors, _outbox, audit_log, _guard)) = $setup().await
            else {
                return;
            };
            $crate::$module::$name(users, sessions, one_time_tokens, second_factors, audit_log).await;
        }
    )+)+};
}
