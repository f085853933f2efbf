//! The command table: one row per command naming the forms it implements (ESP-AT style).
//! A form without a handler answers `[E:09]`, and so does every name not in the table.

#[cfg(feature = "certificates")]
use crate::handlers::certificates;
use crate::handlers::{
    basic, device, diagnostics, gateway, module, mqtt, mqtt_link, network, ota, provisioning,
    publish_data, registration, wifi, Handler, SetHandler,
};

/// One AT command.
pub struct CommandSpec {
    /// Name after `AT+`.
    pub name: &'static str,
    /// `AT+NAME=?`
    pub test: Option<Handler>,
    /// `AT+NAME?`
    pub query: Option<Handler>,
    /// `AT+NAME=<params>`
    pub set: Option<SetHandler>,
    /// `AT+NAME`
    pub exec: Option<Handler>,
    /// Exists only on boards with the capabilities ("Cap", `commands.md` §0).
    pub capability: bool,
}

const fn row(name: &'static str) -> CommandSpec {
    CommandSpec {
        name,
        test: None,
        query: None,
        set: None,
        exec: None,
        capability: false,
    }
}

/// Every command this firmware knows.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        exec: Some(basic::gmr_exec),
        ..row("GMR")
    },
    CommandSpec {
        exec: Some(basic::rst_exec),
        ..row("RST")
    },
    CommandSpec {
        exec: Some(basic::restore_exec),
        ..row("RESTORE")
    },
    CommandSpec {
        query: Some(wifi::cwmode_query),
        set: Some(wifi::cwmode_set),
        ..row("CWMODE")
    },
    CommandSpec {
        query: Some(wifi::cwjap_query),
        set: Some(wifi::cwjap_set),
        ..row("CWJAP")
    },
    CommandSpec {
        exec: Some(wifi::cwqap_exec),
        ..row("CWQAP")
    },
    CommandSpec {
        query: Some(wifi::cipsta_query),
        ..row("CIPSTA")
    },
    CommandSpec {
        query: Some(basic::cipmode_query),
        set: Some(basic::cipmode_set),
        ..row("CIPMODE")
    },
    CommandSpec {
        query: Some(basic::sysram_query),
        ..row("SYSRAM")
    },
    CommandSpec {
        test: Some(basic::tclog_test),
        query: Some(basic::tclog_query),
        set: Some(basic::tclog_set),
        ..row("TCLOG")
    },
    CommandSpec {
        test: Some(device::tcdevinfoset_test),
        query: Some(device::tcdevinfoset_query),
        set: Some(device::tcdevinfoset_set),
        ..row("TCDEVINFOSET")
    },
    CommandSpec {
        test: Some(device::tcprdinfoset_test),
        query: Some(device::tcprdinfoset_query),
        set: Some(device::tcprdinfoset_set),
        ..row("TCPRDINFOSET")
    },
    CommandSpec {
        test: Some(registration::tcdevreg_test),
        exec: Some(registration::tcdevreg_exec),
        ..row("TCDEVREG")
    },
    CommandSpec {
        exec: Some(module::tcmodule_exec),
        ..row("TCMODULE")
    },
    CommandSpec {
        exec: Some(module::tcver_exec),
        ..row("TCVER")
    },
    CommandSpec {
        test: Some(module::tcrestore_test),
        exec: Some(module::tcrestore_exec),
        ..row("TCRESTORE")
    },
    CommandSpec {
        test: Some(module::tcmodinfoset_test),
        query: Some(module::tcmodinfoset_query),
        set: Some(module::tcmodinfoset_set),
        ..row("TCMODINFOSET")
    },
    CommandSpec {
        test: Some(mqtt::tcmqttsrv_test),
        query: Some(mqtt::tcmqttsrv_query),
        set: Some(mqtt::tcmqttsrv_set),
        ..row("TCMQTTSRV")
    },
    CommandSpec {
        test: Some(mqtt_link::tcmqttconn_test),
        query: Some(mqtt_link::tcmqttconn_query),
        set: Some(mqtt_link::tcmqttconn_set),
        ..row("TCMQTTCONN")
    },
    CommandSpec {
        test: Some(mqtt_link::tcmqttdisconn_test),
        exec: Some(mqtt_link::tcmqttdisconn_exec),
        ..row("TCMQTTDISCONN")
    },
    CommandSpec {
        test: Some(mqtt_link::tcmqttpub_test),
        set: Some(mqtt_link::tcmqttpub_set),
        ..row("TCMQTTPUB")
    },
    CommandSpec {
        test: Some(publish_data::tcmqttpubl_test),
        set: Some(publish_data::tcmqttpubl_set),
        ..row("TCMQTTPUBL")
    },
    CommandSpec {
        test: Some(publish_data::tcmqttpubraw_test),
        set: Some(publish_data::tcmqttpubraw_set),
        ..row("TCMQTTPUBRAW")
    },
    CommandSpec {
        test: Some(mqtt_link::tcmqttsub_test),
        query: Some(mqtt_link::tcmqttsub_query),
        set: Some(mqtt_link::tcmqttsub_set),
        ..row("TCMQTTSUB")
    },
    CommandSpec {
        test: Some(mqtt_link::tcmqttunsub_test),
        query: Some(mqtt_link::tcmqttunsub_query),
        set: Some(mqtt_link::tcmqttunsub_set),
        ..row("TCMQTTUNSUB")
    },
    CommandSpec {
        test: Some(diagnostics::tcdiag_test),
        query: Some(diagnostics::tcdiag_query),
        ..row("TCDIAG")
    },
    CommandSpec {
        test: Some(ota::tcotaset_test),
        query: Some(ota::tcotaset_query),
        set: Some(ota::tcotaset_set),
        ..row("TCOTASET")
    },
    CommandSpec {
        test: Some(ota::tcfwinfo_test),
        query: Some(ota::tcfwinfo_query),
        ..row("TCFWINFO")
    },
    CommandSpec {
        test: Some(ota::tcreadfwdata_test),
        set: Some(ota::tcreadfwdata_set),
        ..row("TCREADFWDATA")
    },
    CommandSpec {
        test: Some(gateway::tcgwbind_test),
        set: Some(gateway::tcgwbind_set),
        ..row("TCGWBIND")
    },
    CommandSpec {
        test: Some(gateway::tcgwonline_test),
        query: Some(gateway::tcgwonline_query),
        set: Some(gateway::tcgwonline_set),
        ..row("TCGWONLINE")
    },
    CommandSpec {
        test: Some(mqtt::tcmqttstate_test),
        query: Some(mqtt::tcmqttstate_query),
        ..row("TCMQTTSTATE")
    },
    CommandSpec {
        test: Some(provisioning::tcsap_test),
        query: Some(provisioning::tcsap_query),
        set: Some(provisioning::tcsap_set),
        ..row("TCSAP")
    },
    CommandSpec {
        test: Some(provisioning::tcstopsap_test),
        exec: Some(provisioning::stop_exec),
        ..row("TCSTOPSAP")
    },
    CommandSpec {
        test: Some(provisioning::tcstartsmart_test),
        exec: Some(provisioning::tcstartsmart_exec),
        ..row("TCSTARTSMART")
    },
    CommandSpec {
        test: Some(provisioning::tcstopsmart_test),
        exec: Some(provisioning::stop_exec),
        ..row("TCSTOPSMART")
    },
    CommandSpec {
        test: Some(network::tcregnet_test),
        query: Some(network::tcregnet_query),
        set: Some(network::tcregnet_set),
        capability: true,
        ..row("TCREGNET")
    },
    #[cfg(feature = "certificates")]
    CommandSpec {
        test: Some(certificates::tccertadd_test),
        query: Some(certificates::tccertadd_query),
        set: Some(certificates::tccertadd_set),
        capability: true,
        ..row("TCCERTADD")
    },
    #[cfg(feature = "certificates")]
    CommandSpec {
        test: Some(certificates::tccertcheck_test),
        query: Some(certificates::tccertcheck_query),
        set: Some(certificates::tccertcheck_set),
        capability: true,
        ..row("TCCERTCHECK")
    },
    #[cfg(feature = "certificates")]
    CommandSpec {
        test: Some(certificates::tccertdel_test),
        query: Some(certificates::tccertdel_query),
        set: Some(certificates::tccertdel_set),
        capability: true,
        ..row("TCCERTDEL")
    },
];

/// Finds a command by its exact (case-sensitive) name.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|spec| spec.name.as_bytes() == name)
}
