from runyard.compat import hook


def test_v1_notebook_diagnostics_cell_runs_and_records_the_choice(capsys):
    hook.install()
    try:
        from azureml.telemetry import get_diagnostics_collection_info, set_diagnostics_collection

        set_diagnostics_collection(send_diagnostics=True)
        assert get_diagnostics_collection_info() == {"send_diagnostics": True}
        assert "sends nothing" in capsys.readouterr().out
        set_diagnostics_collection(send_diagnostics=False)
        assert get_diagnostics_collection_info() == {"send_diagnostics": False}
    finally:
        hook.uninstall()
